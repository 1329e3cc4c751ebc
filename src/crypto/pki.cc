#include "crypto/pki.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/rand.h>

#include <ctime>
#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "crypto/openssl_util.h"
#include "crypto/trust_domain.h"

namespace ndx::crypto {
namespace {

using internal::BnPtr;
using internal::Deleter;
using internal::OpenSslErrors;
using internal::PkeyPtr;
using internal::X509Ptr;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

absl::Status OpenSslFailure(absl::string_view what) {
  return absl::InternalError(OpenSslErrors(what));
}

// Creates `dir` (0700) when missing; an existing directory keeps its mode.
absl::Status MakeDir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return absl::OkStatus();
  if (fs::create_directories(dir, ec); !ec) fs::permissions(dir, fs::perms::owner_all, ec);
  if (ec)
    return absl::PermissionDeniedError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status RefuseExisting(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat(path, " already exists; refusing to overwrite a key (remove it first)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateValidity(absl::Duration validity) {
  if (validity <= absl::ZeroDuration() || validity > absl::Hours(24 * 365 * 100)) {
    return absl::InvalidArgumentError(absl::StrCat("validity ", absl::FormatDuration(validity),
                                                   " must be positive and under 100 years"));
  }
  return absl::OkStatus();
}

absl::Status ValidateDnsName(absl::string_view name) {
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (!IsValidSegment(label)) {
      return absl::InvalidArgumentError(
          absl::StrCat("DNS name \"", absl::CHexEscape(name),
                       "\" is malformed: expected dot-separated labels of a-z, 0-9 and '-'"));
    }
  }
  return absl::OkStatus();
}

// An unsigned, unpadded 128-bit random serial number (RFC 5280 allows up to 20 octets).
absl::Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return OpenSslFailure("no randomness for a serial");
  bytes[15] |= 1;  // Serial numbers must not be zero.
  BnPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslFailure("cannot set the serial number");
  }
  return absl::OkStatus();
}

// A version 3 certificate for `key` with a random serial, subject CN and validity; the caller
// adds the issuer, extensions, and signs.
absl::StatusOr<X509Ptr> NewCertificate(EVP_PKEY* key, const std::string& common_name,
                                       absl::Time not_before, absl::Duration validity) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslFailure("cannot make a certificate");
  }
  NDX_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(not_before + validity)) ==
          nullptr) {
    return OpenSslFailure(absl::StrCat("cannot fill the certificate for \"", common_name, "\""));
  }
  return cert;
}

// Adds extensions given in OpenSSL's config syntax (constant strings only, never user input).
absl::Status AddExtensions(X509* cert, X509* issuer,
                           const std::vector<std::pair<int, const char*>>& extensions) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    bool ok = ext != nullptr && X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    if (!ok) return OpenSslFailure(absl::StrCat("cannot add extension ", OBJ_nid2sn(nid)));
  }
  return absl::OkStatus();
}

absl::Status AddName(GENERAL_NAMES* names, int type, absl::string_view value) {
  GENERAL_NAME* name = GENERAL_NAME_new();
  ASN1_STRING* string = nullptr;
  if (type == GEN_IPADD) {
    string = a2i_IPADDRESS(std::string(value).c_str());
    if (string == nullptr) {
      GENERAL_NAME_free(name);
      return absl::InvalidArgumentError(
          absl::StrCat("IP address \"", absl::CHexEscape(value), "\" is malformed"));
    }
  } else {
    string = ASN1_IA5STRING_new();
    if (string != nullptr) ASN1_STRING_set(string, value.data(), static_cast<int>(value.size()));
  }
  if (name == nullptr || string == nullptr) {
    GENERAL_NAME_free(name);
    ASN1_STRING_free(string);
    return OpenSslFailure("cannot make a subject alternative name");
  }
  GENERAL_NAME_set0_value(name, type, string);
  if (sk_GENERAL_NAME_push(names, name) <= 0) {
    GENERAL_NAME_free(name);
    return OpenSslFailure("cannot add a subject alternative name");
  }
  return absl::OkStatus();
}

absl::Status AddSubjectAltNames(X509* cert, const std::vector<std::string>& uris,
                                const std::vector<std::string>& dns_names,
                                const std::vector<std::string>& ip_addresses) {
  // RFC 5280 forbids an empty subjectAltName: no names, no extension.
  if (uris.empty() && dns_names.empty() && ip_addresses.empty()) return absl::OkStatus();
  NamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return OpenSslFailure("cannot make subject alternative names");
  for (const std::string& uri : uris) NDX_RETURN_IF_ERROR(AddName(names.get(), GEN_URI, uri));
  for (const std::string& dns : dns_names) {
    NDX_RETURN_IF_ERROR(ValidateDnsName(dns));
    NDX_RETURN_IF_ERROR(AddName(names.get(), GEN_DNS, dns));
  }
  for (const std::string& ip : ip_addresses) {
    NDX_RETURN_IF_ERROR(AddName(names.get(), GEN_IPADD, ip));
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslFailure("cannot add the subject alternative names");
  }
  return absl::OkStatus();
}

absl::Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) return OpenSslFailure("cannot sign");
  return absl::OkStatus();
}

absl::StatusOr<PkeyPtr> NewKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslFailure("cannot generate a P-256 key");
  return key;
}

absl::Status WriteKeyAndCert(const std::string& key_path, EVP_PKEY* key,
                             const std::string& cert_path, X509* cert) {
  NDX_ASSIGN_OR_RETURN(std::string key_pem, internal::PrivateKeyToPem(key));
  NDX_ASSIGN_OR_RETURN(std::string cert_pem, internal::CertificateToPem(cert));
  NDX_RETURN_IF_ERROR(WriteFileAtomically(key_path, key_pem, 0600));
  return WriteFileAtomically(cert_path, cert_pem, 0644);
}

absl::Status ValidateBasename(const std::string& basename) {
  bool ok =
      !basename.empty() && basename != "ca" && basename.front() != '.' &&
      basename.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-") == std::string::npos;
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("file base name \"", absl::CHexEscape(basename),
                     "\" is malformed: expected a-z, 0-9, '.', '_' and '-', not starting with "
                     "'.', and not \"ca\" (reserved for the CA certificate)"));
  }
  return absl::OkStatus();
}

// The CA of `ca_dir`, checked to be a CA whose key matches, with its trust domain.
struct LoadedCa {
  X509Ptr cert;
  PkeyPtr key;
  std::string pem;
  std::string trust_domain;
};

absl::StatusOr<LoadedCa> LoadCa(const std::string& ca_dir) {
  LoadedCa ca;
  std::string cert_path = ca_dir + "/ca.pem";
  std::string key_path = ca_dir + "/ca.key";
  NDX_ASSIGN_OR_RETURN(ca.pem, ReadFile(cert_path));
  // The CA key signs every identity of the platform: refused when others could have copied it.
  NDX_ASSIGN_OR_RETURN(std::string key_pem, ReadPrivateFile(key_path));
  NDX_ASSIGN_OR_RETURN(ca.cert, internal::ParseCertificatePem(ca.pem, cert_path));
  NDX_ASSIGN_OR_RETURN(ca.key, internal::ParsePrivateKeyPem(key_pem, key_path));
  if (X509_check_ca(ca.cert.get()) != 1) {
    return absl::FailedPreconditionError(absl::StrCat(cert_path, " is not a CA certificate"));
  }
  if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1) {
    return absl::FailedPreconditionError(
        OpenSslErrors(absl::StrCat(key_path, " is not the key of ", cert_path)));
  }
  std::vector<std::string> uris = internal::GetSubjectAltNames(ca.cert.get()).uris;
  absl::StatusOr<std::string> trust_domain =
      uris.size() == 1 ? TrustDomainOfCaUri(uris[0])
                       : absl::InvalidArgumentError("it has no single URI SAN");
  if (!trust_domain.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(cert_path, " does not name its trust domain as one spiffe://<trust-domain> ",
                     "URI SAN (", trust_domain.status().message(), "); make it with CreateCa"));
  }
  ca.trust_domain = *std::move(trust_domain);
  return ca;
}

// The extensions of a leaf, in OpenSSL's config syntax. digitalSignature is all an ECDSA key
// needs in TLS: it signs the handshake and never decrypts a key.
std::vector<std::pair<int, const char*>> LeafExtensions(bool is_ca, ExtendedKeyUsage usage) {
  std::vector<std::pair<int, const char*>> extensions = {
      {NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE"},
      {NID_key_usage,
       is_ca ? "critical,digitalSignature,keyCertSign" : "critical,digitalSignature"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"}};
  if (usage.client_auth && usage.server_auth) {
    extensions.emplace_back(NID_ext_key_usage, "serverAuth,clientAuth");
  } else if (usage.client_auth) {
    extensions.emplace_back(NID_ext_key_usage, "clientAuth");
  } else if (usage.server_auth) {
    extensions.emplace_back(NID_ext_key_usage, "serverAuth");
  }
  return extensions;
}

absl::Time DefaultNotBefore(absl::Time not_before) {
  // One minute back so that a peer whose clock is slightly behind accepts a fresh certificate.
  return not_before == absl::InfinitePast() ? absl::Now() - absl::Minutes(1) : not_before;
}

}  // namespace

absl::Status CreateCa(const std::string& ca_dir, const CaOptions& options) {
  NDX_RETURN_IF_ERROR(ValidateSpiffeTrustDomain(options.trust_domain));
  NDX_RETURN_IF_ERROR(ValidateValidity(options.validity));
  NDX_RETURN_IF_ERROR(MakeDir(ca_dir));
  std::string key_path = ca_dir + "/ca.key";
  NDX_RETURN_IF_ERROR(RefuseExisting(key_path));

  std::string common_name = options.common_name.empty()
                                ? absl::StrCat("ndx platform CA (", options.trust_domain, ")")
                                : options.common_name;
  NDX_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  NDX_ASSIGN_OR_RETURN(
      X509Ptr cert, NewCertificate(key.get(), common_name, DefaultNotBefore(absl::InfinitePast()),
                                   options.validity));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1) {
    return OpenSslFailure("cannot set the CA issuer");
  }
  // pathlen:0: this CA signs leaves only.
  NDX_RETURN_IF_ERROR(AddExtensions(cert.get(), cert.get(),
                                    {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                                     {NID_key_usage, "critical,keyCertSign,cRLSign"},
                                     {NID_subject_key_identifier, "hash"}}));
  NDX_RETURN_IF_ERROR(
      AddSubjectAltNames(cert.get(), {absl::StrCat("spiffe://", options.trust_domain)}, {}, {}));
  NDX_RETURN_IF_ERROR(Sign(cert.get(), key.get()));
  return WriteKeyAndCert(key_path, key.get(), ca_dir + "/ca.pem", cert.get());
}

absl::Status IssueCertificate(const std::string& ca_dir, const std::string& out_dir,
                              const std::string& basename, const LeafOptions& options) {
  NDX_RETURN_IF_ERROR(ValidateBasename(basename));
  const SpiffeId& identity = options.identity;
  absl::StatusOr<SpiffeId> parsed = ParseSpiffeId(identity.ToString());
  if (!parsed.ok() || *parsed != identity) {
    return absl::InvalidArgumentError(
        absl::StrCat("the identity is not a valid ndx SPIFFE id: ", parsed.status().message()));
  }
  NDX_RETURN_IF_ERROR(ValidateValidity(options.validity));
  NDX_ASSIGN_OR_RETURN(LoadedCa ca, LoadCa(ca_dir));
  if (identity.trust_domain() != ca.trust_domain) {
    return absl::InvalidArgumentError(absl::StrCat("identity ", identity.ToString(),
                                                   " is not in the CA's trust domain \"",
                                                   ca.trust_domain, "\""));
  }
  NDX_RETURN_IF_ERROR(MakeDir(out_dir));
  std::string key_path = absl::StrCat(out_dir, "/", basename, ".key");
  NDX_RETURN_IF_ERROR(RefuseExisting(key_path));

  NDX_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  NDX_ASSIGN_OR_RETURN(
      X509Ptr cert, NewCertificate(key.get(), identity.name(), DefaultNotBefore(options.not_before),
                                   options.validity));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.cert.get())) != 1) {
    return OpenSslFailure("cannot set the issuer");
  }
  if (!options.no_extensions_for_test) {
    NDX_RETURN_IF_ERROR(
        AddExtensions(cert.get(), ca.cert.get(),
                      LeafExtensions(options.is_ca_for_test, options.extended_key_usage_for_test)));
    std::vector<std::string> uris =
        options.uris_for_test.value_or(std::vector<std::string>{identity.ToString()});
    NDX_RETURN_IF_ERROR(
        AddSubjectAltNames(cert.get(), uris, options.dns_names, options.ip_addresses));
  }
  NDX_RETURN_IF_ERROR(Sign(cert.get(), ca.key.get()));
  NDX_RETURN_IF_ERROR(WriteKeyAndCert(key_path, key.get(),
                                      absl::StrCat(out_dir, "/", basename, ".pem"), cert.get()));
  return WriteFileAtomically(out_dir + "/ca.pem", ca.pem, 0644);
}

absl::StatusOr<std::string> RenewCertificate(const std::string& ca_dir,
                                             const std::string& cert_path,
                                             absl::Duration validity) {
  NDX_RETURN_IF_ERROR(ValidateValidity(validity));
  NDX_ASSIGN_OR_RETURN(LoadedCa ca, LoadCa(ca_dir));
  NDX_ASSIGN_OR_RETURN(std::string old_pem, ReadFile(cert_path));
  NDX_ASSIGN_OR_RETURN(X509Ptr old_cert, internal::ParseCertificatePem(old_pem, cert_path));
  if (X509_verify(old_cert.get(), X509_get0_pubkey(ca.cert.get())) != 1) {
    return absl::FailedPreconditionError(absl::StrCat(cert_path, " was not signed by the CA in ",
                                                      ca_dir, "; issue a new certificate instead"));
  }
  internal::SubjectAltNames sans = internal::GetSubjectAltNames(old_cert.get());
  if (sans.uris.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(cert_path, " has ", sans.uris.size(),
                                                   " URI SANs; a platform certificate has one"));
  }
  absl::StatusOr<SpiffeId> identity = ParseSpiffeId(sans.uris[0]);
  if (!identity.ok() || identity->trust_domain() != ca.trust_domain) {
    return absl::InvalidArgumentError(absl::StrCat(cert_path, "'s identity ", sans.uris[0],
                                                   " is not an ndx identity of trust domain ",
                                                   ca.trust_domain));
  }
  EVP_PKEY* key = X509_get0_pubkey(old_cert.get());
  if (key == nullptr) return OpenSslFailure("cannot read the certificate's public key");
  NDX_ASSIGN_OR_RETURN(
      X509Ptr cert,
      NewCertificate(key, identity->name(), DefaultNotBefore(absl::InfinitePast()), validity));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.cert.get())) != 1) {
    return OpenSslFailure("cannot set the issuer");
  }
  NDX_RETURN_IF_ERROR(AddExtensions(cert.get(), ca.cert.get(), LeafExtensions(false, {})));
  NDX_RETURN_IF_ERROR(AddSubjectAltNames(cert.get(), sans.uris, sans.dns_names, sans.ip_addresses));
  NDX_RETURN_IF_ERROR(Sign(cert.get(), ca.key.get()));
  NDX_ASSIGN_OR_RETURN(std::string pem, internal::CertificateToPem(cert.get()));
  NDX_RETURN_IF_ERROR(WriteFileAtomically(cert_path, pem, 0644));
  return pem;
}

absl::StatusOr<CertificateInfo> InspectCertificate(const std::string& pem) {
  NDX_ASSIGN_OR_RETURN(X509Ptr cert, internal::ParseCertificatePem(pem, "the input"));
  CertificateInfo info;
  info.subject = internal::NameToString(X509_get_subject_name(cert.get()));
  internal::SubjectAltNames sans = internal::GetSubjectAltNames(cert.get());
  info.uris = std::move(sans.uris);
  info.dns_names = std::move(sans.dns_names);
  info.ip_addresses = std::move(sans.ip_addresses);
  struct tm not_before = {};
  struct tm not_after = {};
  if (ASN1_TIME_to_tm(X509_get0_notBefore(cert.get()), &not_before) != 1 ||
      ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &not_after) != 1) {
    return absl::InvalidArgumentError(OpenSslErrors("the certificate's validity is malformed"));
  }
  info.not_before = absl::FromTimeT(timegm(&not_before));
  info.not_after = absl::FromTimeT(timegm(&not_after));
  info.is_ca = (X509_get_extension_flags(cert.get()) & EXFLAG_CA) != 0;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert.get(), EVP_sha256(), digest, &length) != 1) {
    return OpenSslFailure("cannot hash the certificate");
  }
  info.sha256_fingerprint =
      absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), length));
  return info;
}

}  // namespace ndx::crypto
