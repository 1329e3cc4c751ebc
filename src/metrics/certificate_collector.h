#ifndef NDX_METRICS_CERTIFICATE_COLLECTOR_H_
#define NDX_METRICS_CERTIFICATE_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "common/clock.h"
#include "crypto/tls.h"

namespace ndx::metrics {

// ndx_certificate_expiry_seconds: for each certificate a process presents or trusts
// (crypto::LoadedCertificates: its own, every CA of its CA file), the seconds until it expires,
// negative once it has. Labels: role ("certificate" or "ca"), file, identity (the SPIFFE id, or a
// CA's subject) and fingerprint (SHA-256), which keeps apart two CAs of one bundle. The files are
// read at each scrape, as the TLS stack reloads them, so a renewed certificate is seen at the next
// scrape. A file that cannot be read exports nothing (the
// CertificateExpiryMonitor logs it).
// Thread-safe.
class CertificateCollector final : public prometheus::Collectable {
 public:
  explicit CertificateCollector(crypto::TlsFilePaths files, const Clock* clock = &Clock::Real())
      : files_(std::move(files)), clock_(clock) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const crypto::TlsFilePaths files_;
  const Clock* const clock_;
};

}  // namespace ndx::metrics

#endif  // NDX_METRICS_CERTIFICATE_COLLECTOR_H_
