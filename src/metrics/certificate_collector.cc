#include "metrics/certificate_collector.h"

#include "crypto/certificate_expiry.h"
#include "metrics/gauge_family.h"

namespace ndx::metrics {

std::vector<prometheus::MetricFamily> CertificateCollector::Collect() const {
  const absl::Time now = clock_->Now();
  std::vector<GaugeSample> samples;
  for (const absl::StatusOr<crypto::LoadedCertificate>& certificate :
       crypto::LoadedCertificates(files_)) {
    if (!certificate.ok()) continue;
    samples.push_back({.labels = {{"role", certificate->role},
                                  {"file", certificate->file},
                                  {"identity", certificate->identity},
                                  {"fingerprint", certificate->fingerprint}},
                       .value = absl::ToDoubleSeconds(certificate->not_after - now)});
  }
  return {GaugeFamily("ndx_certificate_expiry_seconds",
                      "Seconds until the certificate expires (negative once it has), as read from "
                      "its file at this scrape",
                      samples)};
}

}  // namespace ndx::metrics
