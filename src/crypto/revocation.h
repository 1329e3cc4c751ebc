#ifndef NDX_CRYPTO_REVOCATION_H_
#define NDX_CRYPTO_REVOCATION_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace ndx::crypto {

// A certificate's serial number as upper-case hexadecimal (OpenSSL's BN_bn2hex).
absl::StatusOr<std::string> CertificateSerial(absl::string_view pem);

// The platform CA's revocations, kept beside its key: <ca_dir>/revoked.txt, one
// "<serial hex> <RFC 3339 time>" line per revoked certificate.
// Records the certificate in `cert_path` as revoked at `now` (once; revoking twice keeps the
// first time). kFailedPrecondition when the CA in `ca_dir` did not sign it.
absl::Status RevokeCertificate(const std::string& ca_dir, const std::string& cert_path,
                               absl::Time now);
// Writes to `out` (atomically, 0644) the CRL of every revoked serial, signed by the CA, issued at
// `now` and valid until now + `validity` (its nextUpdate): gateways and adapters refuse to start
// on an expired CRL and complain loudly when the one they hold expires, so it must be reissued
// (`ndxctl pki crl`) before then. Returns how many serials it lists.
absl::StatusOr<int> WriteRevocationList(const std::string& ca_dir, const std::string& out,
                                        absl::Duration validity, absl::Time now);

// A CRL of the platform CA, checked: signed by the CA of `ca_pem`, issued by it, not expired at
// `now`. Errors name `source` and what is wrong: kInvalidArgument (not a CRL, not signed by the
// CA), kFailedPrecondition (expired).
struct RevocationList {
  absl::Time this_update;
  absl::Time next_update;
  absl::flat_hash_set<std::string> serials;
};
absl::StatusOr<RevocationList> ParseRevocationList(absl::string_view crl_pem,
                                                   absl::string_view ca_pem, absl::Time now,
                                                   absl::string_view source);

// The CRL in a file, read at start and again whenever the file changes (checked every
// `poll`, a second by default, so a new CRL applies within seconds, without a restart).
//   - At start, a missing, unreadable, invalid or expired CRL is an error: a process that should
//     refuse revoked certificates does not run without knowing which.
//   - Later, a CRL that cannot be read or checked is logged as an error and counted, and the
//     last good one stays in force; once the CRL in force is past its nextUpdate, that is logged
//     as an error every minute and counted, and it stays in force until a new one arrives.
// Thread-safe. IsRevoked is for every handshake and every call: a read lock and, for a PEM seen
// before, a hash lookup.
class RevocationWatcher {
 public:
  static absl::StatusOr<std::unique_ptr<RevocationWatcher>> Start(
      const std::string& crl_file, const std::string& ca_file,
      absl::Duration poll = absl::Seconds(1));
  ~RevocationWatcher();
  RevocationWatcher(const RevocationWatcher&) = delete;
  RevocationWatcher& operator=(const RevocationWatcher&) = delete;

  // Whether the certificate `pem` (as a TLS peer presented it) is revoked. A PEM that cannot be
  // parsed is reported revoked: it cannot be shown not to be.
  bool IsRevoked(absl::string_view pem) const;

  // Failed reloads and expiry complaints so far, for monitoring.
  uint64_t reload_failures() const { return reload_failures_.load(); }
  uint64_t expired_complaints() const { return expired_complaints_.load(); }

 private:
  RevocationWatcher(std::string crl_file, std::string ca_file, std::string crl_pem,
                    RevocationList list);
  // Reloads the CRL when its file's content changed.
  void Poll();

  const std::string crl_file_;
  const std::string ca_file_;
  std::string last_pem_;                              // the poll thread's
  absl::Time last_complaint_ = absl::InfinitePast();  // the poll thread's
  mutable absl::Mutex mutex_;
  std::shared_ptr<const RevocationList> list_ ABSL_GUARDED_BY(mutex_);
  // The serial of each PEM seen, so that a call does not parse its peer's certificate again;
  // emptied when it reaches kMaxCachedSerials.
  static constexpr size_t kMaxCachedSerials = 4096;
  mutable absl::Mutex cache_mutex_;
  mutable absl::flat_hash_map<std::string, std::string> serial_cache_ ABSL_GUARDED_BY(cache_mutex_);
  std::atomic<uint64_t> reload_failures_{0};
  std::atomic<uint64_t> expired_complaints_{0};
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace ndx::crypto

#endif  // NDX_CRYPTO_REVOCATION_H_
