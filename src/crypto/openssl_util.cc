#include "crypto/openssl_util.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "absl/strings/str_cat.h"

namespace ndx::crypto::internal {
namespace {

using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

BioPtr ReadBio(absl::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

absl::StatusOr<std::string> BioContents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  if (size < 0) return absl::InternalError(OpenSslErrors("cannot encode PEM"));
  return std::string(data, static_cast<size_t>(size));
}

std::string AsString(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

}  // namespace

std::string OpenSslErrors(absl::string_view what) {
  std::string message(what);
  while (unsigned long err = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    absl::StrAppend(&message, message.size() == what.size() ? ": " : "; ", buf);
  }
  return message;
}

absl::StatusOr<X509Ptr> ParseCertificatePem(absl::string_view pem, absl::string_view source) {
  BioPtr bio = ReadBio(pem);
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    return absl::InvalidArgumentError(
        OpenSslErrors(absl::StrCat(source, " does not hold a PEM certificate")));
  }
  return cert;
}

absl::StatusOr<PkeyPtr> ParsePrivateKeyPem(absl::string_view pem, absl::string_view source) {
  BioPtr bio = ReadBio(pem);
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    return absl::InvalidArgumentError(
        OpenSslErrors(absl::StrCat(source, " does not hold an unencrypted PEM private key")));
  }
  return key;
}

absl::StatusOr<std::string> CertificateToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return absl::InternalError(OpenSslErrors("cannot encode the certificate"));
  }
  return BioContents(bio.get());
}

absl::StatusOr<std::string> PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError(OpenSslErrors("cannot encode the private key"));
  }
  return BioContents(bio.get());
}

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "";
  absl::StatusOr<std::string> text = BioContents(bio.get());
  return text.ok() ? *text : "";
}

SubjectAltNames GetSubjectAltNames(X509* cert) {
  SubjectAltNames sans;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_URI) {
      sans.uris.push_back(AsString(name->d.uniformResourceIdentifier));
    } else if (name->type == GEN_DNS) {
      sans.dns_names.push_back(AsString(name->d.dNSName));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      char text[INET6_ADDRSTRLEN] = {};
      if ((ASN1_STRING_length(ip) == 4 || ASN1_STRING_length(ip) == 16) &&
          inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text)) != nullptr) {
        sans.ip_addresses.emplace_back(text);
      }
    }
  }
  GENERAL_NAMES_free(names);
  return sans;
}

}  // namespace ndx::crypto::internal
