#ifndef NDX_CRYPTO_CERTIFICATE_EXPIRY_H_
#define NDX_CRYPTO_CERTIFICATE_EXPIRY_H_

#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "crypto/tls.h"

namespace ndx::crypto {

// What to say about the certificates a process presents and trusts (its certificate file and
// its CA file) that have expired or expire within `within` of `now`: one line each, naming the
// file, the certificate's identity and the time left. A file that cannot be read or parsed gets
// a line saying so. The files are read on each call, so a renewed file is seen.
std::vector<std::string> ExpiryWarnings(const TlsFilePaths& files, absl::Time now,
                                        absl::Duration within);

// One certificate that a process presents or trusts.
struct LoadedCertificate {
  // "certificate" for the process's own (the leaf of its cert_file), "ca" for one it trusts.
  std::string role;
  std::string file;
  // A leaf's URI SAN (its SPIFFE id; the subject if it has none); a CA's subject, which tells
  // two CAs of one trust domain apart where their URI SAN would not.
  std::string identity;
  // Lower-case hex SHA-256 of the certificate: unique even for two CAs with the same subject.
  std::string fingerprint;
  absl::Time not_after;
};

// The certificates of `files` as they are on disk now: the first certificate of cert_file (the
// leaf) and every certificate of ca_file (a bundle holds the old and the new CA during a CA
// rotation). A file that cannot be read or parsed gives an error naming it in place of its
// certificates; a bundle's block that does not parse is skipped.
std::vector<absl::StatusOr<LoadedCertificate>> LoadedCertificates(const TlsFilePaths& files);

// Logs ExpiryWarnings (a warning each) when constructed and then every `interval`, on a thread
// of its own, so that a certificate about to expire is noticed in a log before its peers refuse
// it. The destructor stops the thread at once.
class CertificateExpiryMonitor {
 public:
  static constexpr absl::Duration kDefaultWithin = absl::Hours(24 * 30);
  static constexpr absl::Duration kDefaultInterval = absl::Hours(24);

  explicit CertificateExpiryMonitor(TlsFilePaths files, const Clock* clock = &Clock::Real(),
                                    absl::Duration within = kDefaultWithin,
                                    absl::Duration interval = kDefaultInterval);
  ~CertificateExpiryMonitor();
  CertificateExpiryMonitor(const CertificateExpiryMonitor&) = delete;
  CertificateExpiryMonitor& operator=(const CertificateExpiryMonitor&) = delete;

 private:
  void Log() const;

  const TlsFilePaths files_;
  const Clock* const clock_;
  const absl::Duration within_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace ndx::crypto

#endif  // NDX_CRYPTO_CERTIFICATE_EXPIRY_H_
