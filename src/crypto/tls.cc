#include "crypto/tls.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/err.h>
#include <spdlog/spdlog.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "crypto/openssl_util.h"
#include "crypto/pki.h"
#include "crypto/tls_internal.h"

namespace ndx::crypto {
namespace internal {

// Reads the three files and checks what a bad deployment gets wrong: a key others can read, a
// certificate that is not the key's, a CA file without a certificate.
absl::StatusOr<TlsPems> LoadTlsFiles(const TlsFilePaths& files) {
  if (files.ca_file.empty() || files.cert_file.empty() || files.key_file.empty()) {
    return absl::InvalidArgumentError("TLS files: ca_file, cert_file and key_file must all be set");
  }
  TlsPems pems;
  NDX_ASSIGN_OR_RETURN(pems.ca, ReadFile(files.ca_file));
  NDX_ASSIGN_OR_RETURN(pems.cert, ReadFile(files.cert_file));
  NDX_ASSIGN_OR_RETURN(pems.key, ReadPrivateFile(files.key_file));
  NDX_RETURN_IF_ERROR(internal::ParseCertificatePem(pems.ca, files.ca_file).status());
  NDX_ASSIGN_OR_RETURN(internal::X509Ptr cert,
                       internal::ParseCertificatePem(pems.cert, files.cert_file));
  NDX_ASSIGN_OR_RETURN(internal::PkeyPtr key,
                       internal::ParsePrivateKeyPem(pems.key, files.key_file));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::InvalidArgumentError(internal::OpenSslErrors(
        absl::StrCat("certificate ", files.cert_file, " does not match key ", files.key_file)));
  }
  return pems;
}

const char* CertificateName(PeerRole role) {
  return role == PeerRole::kClient ? "client certificate" : "server certificate";
}

absl::Status Refused(PeerRole role, absl::string_view rule) {
  return absl::UnauthenticatedError(absl::StrCat(CertificateName(role), " ", rule));
}

absl::StatusOr<SpiffeId> CheckLeaf(X509* cert, PeerRole role, absl::string_view trust_domain) {
  // Without extensions OpenSSL's own checks let anything through: no basicConstraints means
  // "not a CA" to it, no extendedKeyUsage means "any usage".
  if (X509_get_ext_count(cert) == 0) {
    return Refused(role,
                   "has no extensions; a platform certificate carries basicConstraints CA:FALSE, "
                   "keyUsage, extendedKeyUsage and its URI SAN (issue it with `ndxctl pki issue`)");
  }
  const uint32_t flags = X509_get_extension_flags(cert);
  if ((flags & EXFLAG_INVALID) != 0) {
    return Refused(role, "has a malformed extension; reissue it with `ndxctl pki issue`");
  }
  // OpenSSL accepts a CA certificate as a leaf, so that self-signed certificates work; a CA
  // key in a peer's hands could sign any identity of the platform, so we do not.
  if (X509_check_ca(cert) != 0) {
    return Refused(role,
                   "is a CA certificate (basicConstraints CA:TRUE or keyUsage keyCertSign); a "
                   "peer presents a leaf (CA:FALSE) issued with `ndxctl pki issue`");
  }
  const bool client = role == PeerRole::kClient;
  if ((flags & EXFLAG_XKUSAGE) == 0 ||
      (X509_get_extended_key_usage(cert) & (client ? XKU_SSL_CLIENT : XKU_SSL_SERVER)) == 0) {
    return Refused(role, absl::StrCat("lacks the ", client ? "clientAuth" : "serverAuth",
                                      " extended key usage; reissue it with `ndxctl pki issue`, "
                                      "which sets clientAuth and serverAuth"));
  }
  std::vector<std::string> uris = internal::GetSubjectAltNames(cert).uris;
  if (uris.size() != 1) {
    return Refused(role, absl::StrCat("has ", uris.size(), " URI SANs {", absl::StrJoin(uris, ", "),
                                      "}; it must have exactly one, its ndx SPIFFE id"));
  }
  absl::StatusOr<SpiffeId> id = ParseSpiffeId(uris[0]);
  if (!id.ok()) {
    return Refused(role, absl::StrCat("URI SAN is not an ndx identity: ", id.status().message()));
  }
  if (!trust_domain.empty() && id->trust_domain() != trust_domain) {
    return Refused(
        role, absl::StrCat("identity ", id->ToString(), " is not of trust domain ", trust_domain));
  }
  return id;
}

// The leaf rules on the certificate a peer presented in a handshake.
absl::StatusOr<SpiffeId> CheckPresented(
    grpc::experimental::TlsCustomVerificationCheckRequest* request, PeerRole role,
    absl::string_view trust_domain) {
  // The C request rather than peer_cert(): a null PEM must not reach string_ref's strlen.
  const char* pem = request->c_request()->peer_info.peer_cert;
  if (pem == nullptr) return Refused(role, "is missing");
  absl::StatusOr<SpiffeId> id = CheckLeafCertificate(pem, role, trust_domain);
  // This runs on gRPC's handshake thread, whose TLS code reads OpenSSL's per-thread error queue.
  ERR_clear_error();
  return id;
}

// For the log line of a refusal: which certificate, without printing what it names.
std::string FingerprintOf(const char* pem) {
  absl::StatusOr<CertificateInfo> info =
      InspectCertificate(pem == nullptr ? std::string() : std::string(pem));
  return info.ok() ? info->sha256_fingerprint : "unknown";
}

// Refuses to present a certificate that the peers would refuse, so that a bad certificate is
// reported where it is installed and not as a handshake failure somewhere else.
absl::Status CheckOwnCertificate(const TlsPems& pems, const std::string& cert_file, PeerRole role,
                                 absl::string_view trust_domain) {
  absl::StatusOr<SpiffeId> id = CheckLeafCertificate(pems.cert, role, trust_domain);
  if (id.ok()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(cert_file, " would be refused by its peers: ", id.status().message()));
}

}  // namespace internal

using internal::CertificateName;
using internal::CheckLeaf;
using internal::CheckOwnCertificate;
using internal::CheckPresented;
using internal::FingerprintOf;
using internal::LoadTlsFiles;
using internal::Refused;
using internal::TlsPems;

namespace {

// Enforces the client leaf rules of one trust domain on every client of a server. Runs after
// gRPC has verified the client's chain against the CA; synchronous, so Cancel has nothing to
// cancel. Thread-safe: immutable, called concurrently from handshakes.
class ClientLeafVerifier : public grpc::experimental::ExternalCertificateVerifier {
 public:
  ClientLeafVerifier(std::string trust_domain, const RevocationWatcher* revocation)
      : trust_domain_(std::move(trust_domain)), revocation_(revocation) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    absl::Status status = CheckPresented(request, PeerRole::kClient, trust_domain_).status();
    const char* pem = request->c_request()->peer_info.peer_cert;
    if (status.ok() && revocation_ != nullptr && revocation_->IsRevoked(pem)) {
      status = Refused(PeerRole::kClient, "has been revoked (it is on the CRL in force)");
    }
    if (!status.ok()) {
      // A failed handshake tells the client nothing: the log is where the operator learns why.
      spdlog::warn("refused a TLS client: {} (certificate SHA-256 {})",
                   std::string(status.message()),
                   FingerprintOf(request->c_request()->peer_info.peer_cert));
    }
    *sync_status = ToGrpcStatus(status);
    return true;
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  const std::string trust_domain_;
  const RevocationWatcher* const revocation_;
};

// Enforces the server leaf rules on a server and, when `expected` is set, that it is exactly that
// identity: host names cannot work with URI-only certificates, the SPIFFE id does. Runs after
// gRPC has verified the chain against the CA; synchronous, so Cancel has nothing to cancel.
// Thread-safe: immutable, called concurrently from handshakes.
class ServerLeafVerifier : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit ServerLeafVerifier(std::optional<SpiffeId> expected) : expected_(std::move(expected)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    absl::StatusOr<SpiffeId> id = CheckPresented(request, PeerRole::kServer, "");
    absl::Status status = id.status();
    if (id.ok() && expected_.has_value() && *id != *expected_) {
      status = Refused(PeerRole::kServer,
                       absl::StrCat("has URI SANs {", id->ToString(), "}; expected exactly {",
                                    expected_->ToString(), "}"));
    }
    if (!status.ok()) {
      // The client's call fails with this message; info keeps ndxctl's stderr to one line, and
      // the gateway's log still says why an adapter was unreachable.
      spdlog::info("refused a TLS server: {} (certificate SHA-256 {})",
                   std::string(status.message()),
                   FingerprintOf(request->c_request()->peer_info.peer_cert));
    }
    *sync_status = ToGrpcStatus(status);
    return true;
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  const std::optional<SpiffeId> expected_;
};

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("cannot identify the peer: ", why));
}

}  // namespace

constexpr unsigned int kReloadSeconds = 1;

// gRPC's file watcher re-reads the files every kReloadSeconds: a renewed certificate (`ndxctl
// pki renew` rewrites it atomically, for the same key) or a new CA bundle applies from the next
// handshake on, without a restart, and a file that cannot be read or parsed leaves the last good
// one in use. The checks of MakeServerCredentials and MakeChannelCredentials run on the files as
// they are at start.
std::shared_ptr<grpc::experimental::CertificateProviderInterface> WatchTlsFiles(
    const TlsFilePaths& files) {
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, files.ca_file, kReloadSeconds);
}

absl::StatusOr<SpiffeId> CheckLeafCertificate(absl::string_view pem, PeerRole role,
                                              absl::string_view trust_domain) {
  NDX_ASSIGN_OR_RETURN(internal::X509Ptr cert,
                       internal::ParseCertificatePem(pem, CertificateName(role)));
  return CheckLeaf(cert.get(), role, trust_domain);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFilePaths& files, const std::string& trust_domain,
    const RevocationWatcher* revocation) {
  if (trust_domain.empty()) {
    return absl::InvalidArgumentError("server credentials need the platform's trust domain");
  }
  NDX_ASSIGN_OR_RETURN(TlsPems pems, LoadTlsFiles(files));
  NDX_RETURN_IF_ERROR(CheckOwnCertificate(pems, files.cert_file, PeerRole::kServer, trust_domain));
  namespace exp = grpc::experimental;
  // The TLS credentials API (unlike SslServerCredentials) runs a verifier of ours in every
  // handshake, after gRPC has verified the client's chain against the CA (gRPC's default minimum
  // is TLS 1.2): the leaf rules hold for every call path, services without an identity check
  // (health, reflection) included.
  exp::TlsServerCredentialsOptions options(WatchTlsFiles(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.set_certificate_verifier(
      exp::ExternalCertificateVerifier::Create<ClientLeafVerifier>(trust_domain, revocation));
  std::shared_ptr<grpc::ServerCredentials> credentials = exp::TlsServerCredentials(options);
  if (credentials == nullptr) return absl::InternalError("gRPC refused the server credentials");
  return credentials;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFilePaths& files, std::optional<SpiffeId> expected_server,
    std::shared_ptr<grpc::experimental::CertificateProviderInterface> watch) {
  NDX_ASSIGN_OR_RETURN(TlsPems pems, LoadTlsFiles(files));
  NDX_RETURN_IF_ERROR(
      CheckOwnCertificate(pems, files.cert_file, PeerRole::kClient,
                          expected_server.has_value() ? expected_server->trust_domain() : ""));
  namespace exp = grpc::experimental;
  // The TLS credentials API (unlike SslCredentials) lets us replace host-name checking, which
  // cannot work with URI-only certificates, by our verifier. gRPC still verifies the chain
  // against the CA (set_verify_server_certs) before calling it.
  exp::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(watch != nullptr ? std::move(watch) : WatchTlsFiles(files));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  options.set_check_call_host(false);
  options.set_certificate_verifier(
      exp::ExternalCertificateVerifier::Create<ServerLeafVerifier>(std::move(expected_server)));
  std::shared_ptr<grpc::ChannelCredentials> credentials = exp::TlsCredentials(options);
  if (credentials == nullptr) return absl::InternalError("gRPC refused the channel credentials");
  return credentials;
}

absl::StatusOr<SpiffeId> PeerIdentity(const grpc::AuthContext& auth_context) {
  // Hot path. gRPC's TLS code (grpc_ssl_peer_to_auth_context) sets "peer_spiffe_id" from the
  // peer's leaf certificate only when that certificate has exactly one URI SAN and the URI is a
  // spiffe:// id; with two or more URI SANs it sets nothing. So one property lookup and a string
  // parse decide "exactly one URI SAN, and it is an ndx id" without decoding the PEM per call.
  // The certificate was verified in the handshake: our server credentials require and verify a
  // client certificate against the CA, and our channel credentials verify the server's.
  std::vector<grpc::string_ref> ids =
      auth_context.FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  if (ids.size() == 1) {
    absl::StatusOr<SpiffeId> id = ParseSpiffeId(absl::string_view(ids[0].data(), ids[0].size()));
    if (!id.ok()) return Unauthenticated(id.status().message());
    return id;
  }
  // Cold path: say why there is no identity.
  if (auth_context.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME).empty()) {
    return Unauthenticated("the peer presented no TLS certificate");
  }
  std::vector<std::string> uris;
  for (const grpc::string_ref& uri : auth_context.FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) {
    uris.emplace_back(uri.data(), uri.size());
  }
  return Unauthenticated(absl::StrCat("the peer certificate has ", uris.size(), " URI SANs {",
                                      absl::StrJoin(uris, ", "),
                                      "}; it must have exactly one, its ndx SPIFFE id"));
}

}  // namespace ndx::crypto
