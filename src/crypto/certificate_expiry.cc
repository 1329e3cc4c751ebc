#include "crypto/certificate_expiry.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "crypto/pki.h"

namespace ndx::crypto {
namespace {

// The warning for the certificate in `path`, if it deserves one.
void AddWarning(absl::string_view what, const std::string& path, absl::Time now,
                absl::Duration within, std::vector<std::string>* warnings) {
  if (path.empty()) return;
  absl::StatusOr<std::string> pem = ReadFile(path);
  absl::StatusOr<CertificateInfo> info =
      pem.ok() ? InspectCertificate(*pem) : absl::StatusOr<CertificateInfo>(pem.status());
  if (!info.ok()) {
    warnings->push_back(
        absl::StrCat(what, " ", path, " cannot be checked for expiry: ", info.status().message()));
    return;
  }
  absl::Duration left = info->not_after - now;
  if (left > within) return;
  std::string name = info->uris.empty() ? info->subject : info->uris.front();
  std::string expiry = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", info->not_after, absl::UTCTimeZone());
  if (left <= absl::ZeroDuration()) {
    warnings->push_back(absl::StrCat(what, " ", path, " (", name, ") expired at ", expiry,
                                     "; peers refuse it: renew it now"));
    return;
  }
  warnings->push_back(absl::StrCat(what, " ", path, " (", name, ") expires at ", expiry, ", in ",
                                   absl::ToInt64Hours(left) / 24, " days ",
                                   absl::ToInt64Hours(left) % 24, " hours: renew it before"));
}

// Adds the certificates of the PEM file `path` (only its first one unless `all`).
void AddLoaded(absl::string_view role, const std::string& path, bool all,
               std::vector<absl::StatusOr<LoadedCertificate>>* loaded) {
  if (path.empty()) return;
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) {
    loaded->push_back(pem.status());
    return;
  }
  static constexpr char kBegin[] = "-----BEGIN CERTIFICATE-----";
  size_t found = 0;
  size_t at = pem->find(kBegin);
  while (at != std::string::npos) {
    const size_t next = pem->find(kBegin, at + sizeof(kBegin) - 1);
    // InspectCertificate reads the first certificate of what it is given.
    absl::StatusOr<CertificateInfo> info = InspectCertificate(pem->substr(at, next - at));
    if (info.ok()) {
      ++found;
      loaded->push_back(LoadedCertificate{
          .role = std::string(role),
          .file = path,
          .identity = role == "ca" || info->uris.empty() ? info->subject : info->uris.front(),
          .fingerprint = info->sha256_fingerprint,
          .not_after = info->not_after});
      if (!all) return;
    }
    at = next;
  }
  if (found == 0) {
    loaded->push_back(
        absl::InvalidArgumentError(absl::StrCat(path, " holds no certificate that parses")));
  }
}

}  // namespace

std::vector<absl::StatusOr<LoadedCertificate>> LoadedCertificates(const TlsFilePaths& files) {
  std::vector<absl::StatusOr<LoadedCertificate>> loaded;
  AddLoaded("certificate", files.cert_file, /*all=*/false, &loaded);
  AddLoaded("ca", files.ca_file, /*all=*/true, &loaded);
  return loaded;
}

std::vector<std::string> ExpiryWarnings(const TlsFilePaths& files, absl::Time now,
                                        absl::Duration within) {
  std::vector<std::string> warnings;
  AddWarning("certificate", files.cert_file, now, within, &warnings);
  AddWarning("CA certificate", files.ca_file, now, within, &warnings);
  return warnings;
}

CertificateExpiryMonitor::CertificateExpiryMonitor(TlsFilePaths files, const Clock* clock,
                                                   absl::Duration within, absl::Duration interval)
    : files_(std::move(files)), clock_(clock), within_(within) {
  Log();
  thread_ = std::thread([this, interval] {
    while (!stop_.WaitForNotificationWithTimeout(interval)) Log();
  });
}

CertificateExpiryMonitor::~CertificateExpiryMonitor() {
  stop_.Notify();
  thread_.join();
}

void CertificateExpiryMonitor::Log() const {
  for (const std::string& warning : ExpiryWarnings(files_, clock_->Now(), within_)) {
    spdlog::warn("{}", warning);
  }
}

}  // namespace ndx::crypto
