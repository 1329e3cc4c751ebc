#include "crypto/revocation.h"

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/openssl_util.h"

namespace ndx::crypto {
namespace {

using internal::BnPtr;
using internal::Deleter;
using internal::OpenSslErrors;
using internal::PkeyPtr;
using internal::X509Ptr;
using CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL, X509_CRL_free>>;
using Asn1IntPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME, ASN1_TIME_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

absl::StatusOr<std::string> SerialHex(const ASN1_INTEGER* serial) {
  BnPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return absl::InternalError(OpenSslErrors("cannot read a serial number"));
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return absl::InternalError(OpenSslErrors("cannot print a serial number"));
  std::string text(hex);
  OPENSSL_free(hex);
  return text;
}

absl::StatusOr<absl::Time> ToTime(const ASN1_TIME* time) {
  struct tm parts = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    return absl::InvalidArgumentError("malformed time");
  }
  return absl::FromTimeT(timegm(&parts));
}

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

struct Ca {
  X509Ptr cert;
  PkeyPtr key;
};

absl::StatusOr<Ca> LoadCaForCrl(const std::string& ca_dir) {
  NDX_ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(ca_dir + "/ca.pem"));
  // The CA key signs every identity of the platform: refused when others could have copied it.
  NDX_ASSIGN_OR_RETURN(std::string key_pem, ReadPrivateFile(ca_dir + "/ca.key"));
  Ca ca;
  NDX_ASSIGN_OR_RETURN(ca.cert, internal::ParseCertificatePem(cert_pem, ca_dir + "/ca.pem"));
  NDX_ASSIGN_OR_RETURN(ca.key, internal::ParsePrivateKeyPem(key_pem, ca_dir + "/ca.key"));
  if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat(ca_dir, "/ca.key does not belong to ", ca_dir, "/ca.pem"));
  }
  return ca;
}

// The serials of <ca_dir>/revoked.txt with their times, in file order.
absl::StatusOr<std::vector<std::pair<std::string, absl::Time>>> ReadRevoked(
    const std::string& ca_dir) {
  std::vector<std::pair<std::string, absl::Time>> revoked;
  absl::StatusOr<std::string> text = ReadFile(ca_dir + "/revoked.txt");
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return revoked;
    return text.status();
  }
  int number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    ++number;
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    absl::Time time;
    std::string error;
    if (parts.size() != 2 || parts[0].empty() ||
        !std::all_of(parts[0].begin(), parts[0].end(), absl::ascii_isxdigit) ||
        !absl::ParseTime(absl::RFC3339_full, parts[1], &time, &error)) {
      return absl::DataLossError(absl::StrCat(ca_dir, "/revoked.txt line ", number,
                                              " is not \"<serial hex> <RFC 3339 time>\""));
    }
    revoked.emplace_back(std::string(parts[0]), time);
  }
  return revoked;
}

}  // namespace

absl::StatusOr<std::string> CertificateSerial(absl::string_view pem) {
  NDX_ASSIGN_OR_RETURN(X509Ptr cert, internal::ParseCertificatePem(pem, "the certificate"));
  return SerialHex(X509_get0_serialNumber(cert.get()));
}

absl::Status RevokeCertificate(const std::string& ca_dir, const std::string& cert_path,
                               absl::Time now) {
  NDX_ASSIGN_OR_RETURN(Ca ca, LoadCaForCrl(ca_dir));
  NDX_ASSIGN_OR_RETURN(std::string pem, ReadFile(cert_path));
  NDX_ASSIGN_OR_RETURN(X509Ptr cert, internal::ParseCertificatePem(pem, cert_path));
  if (X509_verify(cert.get(), X509_get0_pubkey(ca.cert.get())) != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat(cert_path, " was not signed by the CA in ", ca_dir, "; nothing to revoke"));
  }
  NDX_ASSIGN_OR_RETURN(std::string serial, SerialHex(X509_get0_serialNumber(cert.get())));
  NDX_ASSIGN_OR_RETURN(auto revoked, ReadRevoked(ca_dir));
  std::string text;
  for (const auto& [known, time] : revoked) {
    if (known == serial) return absl::OkStatus();
    absl::StrAppend(&text, known, " ", Rfc3339(time), "\n");
  }
  absl::StrAppend(&text, serial, " ", Rfc3339(now), "\n");
  return WriteFileAtomically(ca_dir + "/revoked.txt", text, 0600);
}

absl::StatusOr<int> WriteRevocationList(const std::string& ca_dir, const std::string& out,
                                        absl::Duration validity, absl::Time now) {
  if (validity <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("a CRL's validity must be positive");
  }
  NDX_ASSIGN_OR_RETURN(Ca ca, LoadCaForCrl(ca_dir));
  NDX_ASSIGN_OR_RETURN(auto revoked, ReadRevoked(ca_dir));
  CrlPtr crl(X509_CRL_new());
  Asn1TimePtr this_update(ASN1_TIME_set(nullptr, absl::ToTimeT(now)));
  Asn1TimePtr next_update(ASN1_TIME_set(nullptr, absl::ToTimeT(now + validity)));
  if (!crl || !this_update || !next_update || X509_CRL_set_version(crl.get(), 1) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert.get())) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1) {
    return absl::InternalError(OpenSslErrors("cannot make a CRL"));
  }
  for (const auto& [serial, time] : revoked) {
    BIGNUM* raw = nullptr;
    if (BN_hex2bn(&raw, serial.c_str()) == 0) {
      return absl::InternalError(OpenSslErrors("cannot read a revoked serial"));
    }
    BnPtr bn(raw);
    Asn1IntPtr number(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    Asn1TimePtr when(ASN1_TIME_set(nullptr, absl::ToTimeT(time)));
    X509_REVOKED* entry = X509_REVOKED_new();
    if (!number || !when || entry == nullptr ||
        X509_REVOKED_set_serialNumber(entry, number.get()) != 1 ||
        X509_REVOKED_set_revocationDate(entry, when.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), entry) != 1) {
      X509_REVOKED_free(entry);
      return absl::InternalError(OpenSslErrors("cannot add a revoked serial"));
    }
  }
  if (X509_CRL_sort(crl.get()) != 1 || X509_CRL_sign(crl.get(), ca.key.get(), EVP_sha256()) <= 0) {
    return absl::InternalError(OpenSslErrors("cannot sign the CRL"));
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) {
    return absl::InternalError(OpenSslErrors("cannot write the CRL"));
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  NDX_RETURN_IF_ERROR(WriteFileAtomically(out, std::string(data, static_cast<size_t>(size)), 0644));
  return static_cast<int>(revoked.size());
}

absl::StatusOr<RevocationList> ParseRevocationList(absl::string_view crl_pem,
                                                   absl::string_view ca_pem, absl::Time now,
                                                   absl::string_view source) {
  BioPtr bio(BIO_new_mem_buf(crl_pem.data(), static_cast<int>(crl_pem.size())));
  CrlPtr crl(bio ? PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!crl) {
    return absl::InvalidArgumentError(
        OpenSslErrors(absl::StrCat(source, " holds no PEM certificate revocation list")));
  }
  NDX_ASSIGN_OR_RETURN(X509Ptr ca, internal::ParseCertificatePem(ca_pem, "the CA certificate"));
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.get())) != 0 ||
      X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())) != 1) {
    return absl::InvalidArgumentError(OpenSslErrors(
        absl::StrCat(source,
                     " is not a CRL signed by the platform CA (make it with `ndxctl pki "
                     "crl` from the CA that issued the certificates)")));
  }
  RevocationList list;
  NDX_ASSIGN_OR_RETURN(list.this_update, ToTime(X509_CRL_get0_lastUpdate(crl.get())));
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get());
  if (next == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " has no nextUpdate; make it with `ndxctl pki crl`"));
  }
  NDX_ASSIGN_OR_RETURN(list.next_update, ToTime(next));
  if (list.next_update <= now) {
    return absl::FailedPreconditionError(absl::StrCat(source, " expired at ",
                                                      Rfc3339(list.next_update),
                                                      "; issue a new one with `ndxctl pki crl`"));
  }
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    NDX_ASSIGN_OR_RETURN(
        std::string serial,
        SerialHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
    list.serials.insert(std::move(serial));
  }
  return list;
}

absl::StatusOr<std::unique_ptr<RevocationWatcher>> RevocationWatcher::Start(
    const std::string& crl_file, const std::string& ca_file, absl::Duration poll) {
  NDX_ASSIGN_OR_RETURN(std::string crl_pem, ReadFile(crl_file));
  NDX_ASSIGN_OR_RETURN(std::string ca_pem, ReadFile(ca_file));
  NDX_ASSIGN_OR_RETURN(RevocationList list,
                       ParseRevocationList(crl_pem, ca_pem, absl::Now(), crl_file));
  spdlog::info("certificate revocation list {}: {} revoked, valid until {}", crl_file,
               list.serials.size(), Rfc3339(list.next_update));
  std::unique_ptr<RevocationWatcher> watcher(
      new RevocationWatcher(crl_file, ca_file, std::move(crl_pem), std::move(list)));
  watcher->thread_ = std::thread([watcher = watcher.get(), poll] {
    while (!watcher->stop_.WaitForNotificationWithTimeout(poll)) watcher->Poll();
  });
  return watcher;
}

RevocationWatcher::RevocationWatcher(std::string crl_file, std::string ca_file, std::string crl_pem,
                                     RevocationList list)
    : crl_file_(std::move(crl_file)),
      ca_file_(std::move(ca_file)),
      last_pem_(std::move(crl_pem)),
      list_(std::make_shared<const RevocationList>(std::move(list))) {}

RevocationWatcher::~RevocationWatcher() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void RevocationWatcher::Poll() {
  const absl::Time now = absl::Now();
  absl::StatusOr<std::string> pem = ReadFile(crl_file_);
  if (pem.ok() && *pem != last_pem_) {
    absl::StatusOr<std::string> ca_pem = ReadFile(ca_file_);
    absl::StatusOr<RevocationList> list = ca_pem.ok()
                                              ? ParseRevocationList(*pem, *ca_pem, now, crl_file_)
                                              : absl::StatusOr<RevocationList>(ca_pem.status());
    if (list.ok()) {
      spdlog::info("certificate revocation list {} reloaded: {} revoked, valid until {}", crl_file_,
                   list->serials.size(), Rfc3339(list->next_update));
      last_pem_ = *std::move(pem);
      absl::MutexLock lock(&mutex_);
      list_ = std::make_shared<const RevocationList>(*std::move(list));
      return;
    }
    ++reload_failures_;
    // Keep the content so that the same bad file is reported once, not every second.
    last_pem_ = *std::move(pem);
    spdlog::error(
        "certificate revocation list {} not reloaded, the previous one stays in force: {}",
        crl_file_, list.status().ToString());
  } else if (!pem.ok()) {
    ++reload_failures_;
    spdlog::error(
        "certificate revocation list {} cannot be read, the previous one stays in "
        "force: {}",
        crl_file_, pem.status().ToString());
  }
  absl::Time next_update;
  {
    absl::ReaderMutexLock lock(&mutex_);
    next_update = list_->next_update;
  }
  if (next_update <= now && now - last_complaint_ >= absl::Minutes(1)) {
    last_complaint_ = now;
    ++expired_complaints_;
    spdlog::error(
        "certificate revocation list {} expired at {} and is still in force: issue a "
        "new one with `ndxctl pki crl`",
        crl_file_, Rfc3339(next_update));
  }
}

bool RevocationWatcher::IsRevoked(absl::string_view pem) const {
  std::shared_ptr<const RevocationList> list;
  {
    absl::ReaderMutexLock lock(&mutex_);
    list = list_;
  }
  if (list->serials.empty()) return false;
  std::string serial;
  {
    absl::MutexLock lock(&cache_mutex_);
    auto it = serial_cache_.find(pem);
    if (it != serial_cache_.end()) serial = it->second;
  }
  if (serial.empty()) {
    absl::StatusOr<std::string> parsed = CertificateSerial(pem);
    if (!parsed.ok()) return true;
    serial = *parsed;
    absl::MutexLock lock(&cache_mutex_);
    if (serial_cache_.size() >= kMaxCachedSerials) serial_cache_.clear();
    serial_cache_.emplace(std::string(pem), serial);
  }
  return list->serials.contains(serial);
}

}  // namespace ndx::crypto
