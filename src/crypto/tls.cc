#include "crypto/tls.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/openssl_util.h"

namespace ndx::crypto {
namespace {

struct TlsPems {
  std::string ca;
  std::string cert;
  std::string key;
};

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

// Accepts a server certificate only if its URI SANs are exactly {expected}. Runs after gRPC has
// verified the chain against the CA; synchronous, so Cancel has nothing to cancel.
// Thread-safe: immutable, called concurrently from handshakes.
class ExpectedServerVerifier : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit ExpectedServerVerifier(std::string expected) : expected_(std::move(expected)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    std::vector<grpc::string_ref> uris = request->uri_names();
    if (uris.size() == 1 && uris[0] == grpc::string_ref(expected_)) {
      *sync_status = grpc::Status::OK;
    } else {
      std::vector<std::string> names;
      for (const grpc::string_ref& uri : uris) names.emplace_back(uri.data(), uri.size());
      *sync_status =
          grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                       absl::StrCat("server certificate has URI SANs {", absl::StrJoin(names, ", "),
                                    "}; expected exactly {", expected_, "}"));
    }
    return true;
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  const std::string expected_;
};

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("cannot identify the peer: ", why));
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFilePaths& files) {
  NDX_ASSIGN_OR_RETURN(TlsPems pems, LoadTlsFiles(files));
  // The stable SSL API suffices on the server: it verifies the client chain against the CA in
  // the handshake (gRPC's default minimum is TLS 1.2), and PeerIdentity reads the identity that
  // gRPC extracts from the verified certificate. Certificates are reloaded by restarting.
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = pems.ca;
  options.pem_key_cert_pairs.push_back({pems.key, pems.cert});
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(options);
  if (credentials == nullptr) return absl::InternalError("gRPC refused the server credentials");
  return credentials;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFilePaths& files, std::optional<SpiffeId> expected_server) {
  NDX_ASSIGN_OR_RETURN(TlsPems pems, LoadTlsFiles(files));
  namespace exp = grpc::experimental;
  // The TLS credentials API (unlike SslCredentials) lets us replace host-name checking, which
  // cannot work with URI-only certificates, by a check of the server's SPIFFE id. gRPC still
  // verifies the chain against the CA (set_verify_server_certs) before calling the verifier.
  exp::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(std::make_shared<exp::StaticDataCertificateProvider>(
      pems.ca, std::vector<exp::IdentityKeyCertPair>{{pems.key, pems.cert}}));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  options.set_check_call_host(false);
  if (expected_server.has_value()) {
    options.set_certificate_verifier(
        exp::ExternalCertificateVerifier::Create<ExpectedServerVerifier>(
            expected_server->ToString()));
  } else {
    options.set_certificate_verifier(std::make_shared<exp::NoOpCertificateVerifier>());
  }
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
