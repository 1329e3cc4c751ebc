#ifndef NDX_CRYPTO_CERTIFICATE_EXPIRY_H_
#define NDX_CRYPTO_CERTIFICATE_EXPIRY_H_

#include <string>
#include <thread>
#include <vector>

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
