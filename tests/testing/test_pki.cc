#include "testing/test_pki.h"

#include <grpcpp/security/tls_credentials_options.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/files.h"

namespace ndx::testing {

std::shared_ptr<grpc::ChannelCredentials> PresentingAsIs(const crypto::TlsFilePaths& files) {
  namespace exp = grpc::experimental;
  exp::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(std::make_shared<exp::StaticDataCertificateProvider>(
      ReadFile(files.ca_file).value_or(""),
      std::vector<exp::IdentityKeyCertPair>{
          {ReadFile(files.key_file).value_or(""), ReadFile(files.cert_file).value_or("")}}));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  options.set_check_call_host(false);
  options.set_certificate_verifier(std::make_shared<exp::NoOpCertificateVerifier>());
  return exp::TlsCredentials(options);
}
namespace {

void Check(const absl::Status& status, const std::string& what) {
  if (status.ok()) return;
  ADD_FAILURE() << "TestPki: " << what << ": " << status;
  throw std::runtime_error(absl::StrCat("TestPki: ", what, ": ", status.ToString()));
}

// "moh/insurance" -> "moh.insurance": segments never hold '.', so this is unambiguous.
std::string Label(const std::string& kind, const std::string& id) {
  return absl::StrCat(kind, ".", absl::StrReplaceAll(id, {{"/", "."}}));
}

// The tests' servers listen on 127.0.0.1: with the address in the certificate, as `ndxctl pki
// issue --ip 127.0.0.1` puts it, an HTTPS client that checks it (curl scraping /metrics) accepts
// the server. ndx's own checks read the URI SAN only.
constexpr char kTestServerAddress[] = "127.0.0.1";

crypto::LeafOptions NodeOptions(const std::string& trust_domain, const std::string& node_id) {
  crypto::LeafOptions options;
  options.identity = crypto::SpiffeId::Node(trust_domain, node_id);
  options.ip_addresses = {kTestServerAddress};
  return options;
}

}  // namespace

TestPki::TestPki() {
  ca_dir_ = Ca("ca", kTrustDomain);
  ca_file_ = ca_dir_ + "/ca.pem";
}

std::string TestPki::Ca(const std::string& name, const std::string& trust_domain) {
  std::string ca_dir = dir_.Join(name);
  if (!std::filesystem::exists(ca_dir + "/ca.key")) {
    crypto::CaOptions options;
    options.trust_domain = trust_domain;
    options.common_name = absl::StrCat("ndx test CA ", name, " (", trust_domain, ")");
    Check(crypto::CreateCa(ca_dir, options), absl::StrCat("CreateCa ", name));
  }
  return ca_dir;
}

crypto::TlsFilePaths TestPki::Issue(const std::string& label, const std::string& ca_dir,
                                    const crypto::LeafOptions& options) {
  auto it = issued_.find(label);
  if (it != issued_.end()) return it->second;
  std::string out_dir = dir_.Join(label);
  Check(crypto::IssueCertificate(ca_dir, out_dir, "tls", options),
        absl::StrCat("IssueCertificate ", label));
  crypto::TlsFilePaths paths{out_dir + "/ca.pem", out_dir + "/tls.pem", out_dir + "/tls.key"};
  issued_.emplace(label, paths);
  return paths;
}

crypto::TlsFilePaths TestPki::Node(const std::string& node_id) {
  return Issue(Label("node", node_id), ca_dir_, NodeOptions(kTrustDomain, node_id));
}

crypto::TlsFilePaths TestPki::Gateway(const std::string& name) {
  crypto::LeafOptions options;
  options.identity = crypto::SpiffeId::Gateway(kTrustDomain, name);
  // For the clients of its HTTPS listeners (curl), which check the host they connect to.
  options.ip_addresses = {kTestServerAddress};
  return Issue(Label("gateway", name), ca_dir_, options);
}

crypto::TlsFilePaths TestPki::ClusterMember(const std::string& name) {
  crypto::LeafOptions options;
  options.identity = crypto::SpiffeId::Gateway(kClusterTrustDomain, name);
  // etcd, NATS and their clients check the host they connect to.
  options.ip_addresses = {kTestServerAddress};
  return Issue(Label("cluster", name), Ca("cluster-ca", kClusterTrustDomain), options);
}

crypto::TlsFilePaths TestPki::ExpiredNode(const std::string& node_id) {
  crypto::LeafOptions options = NodeOptions(kTrustDomain, node_id);
  options.not_before = absl::Now() - absl::Hours(48);
  options.validity = absl::Hours(24);
  return Issue(Label("expired-node", node_id), ca_dir_, options);
}

crypto::TlsFilePaths TestPki::OtherCaNode(const std::string& node_id) {
  return Issue(Label("other-ca-node", node_id), Ca("other-ca", kTrustDomain),
               NodeOptions(kTrustDomain, node_id));
}

crypto::TlsFilePaths TestPki::TwoUriNode(const std::string& node_id) {
  return WithDefect(crypto::SpiffeId::Node(kTrustDomain, node_id), CertificateDefect::kTwoUris);
}

crypto::TlsFilePaths TestPki::WrongTrustDomainNode(const std::string& node_id) {
  return Issue(Label("wrong-td-node", node_id), Ca("other-td-ca", "other.test"),
               NodeOptions("other.test", node_id));
}

crypto::TlsFilePaths TestPki::WithDefect(const crypto::SpiffeId& identity,
                                         CertificateDefect defect) {
  crypto::LeafOptions options;
  options.identity = identity;
  std::string ca_dir = ca_dir_;
  switch (defect) {
    case CertificateDefect::kNone:
      break;
    case CertificateDefect::kExpired:
      options.not_before = absl::Now() - absl::Hours(48);
      options.validity = absl::Hours(24);
      break;
    case CertificateDefect::kNotYetValid:
      options.not_before = absl::Now() + absl::Hours(24);
      break;
    case CertificateDefect::kOtherCa:
      ca_dir = Ca("other-ca", kTrustDomain);
      break;
    case CertificateDefect::kOtherTrustDomain:
      options.uris_for_test = {absl::StrReplaceAll(
          identity.ToString(),
          {{absl::StrCat("spiffe://", kTrustDomain, "/"), "spiffe://other.test/"}})};
      break;
    case CertificateDefect::kTwoUris:
      options.uris_for_test = {identity.ToString(),
                               absl::StrCat("spiffe://", kTrustDomain, "/gateway/second-uri")};
      break;
    case CertificateDefect::kDnsSanOnly:
      options.uris_for_test = std::vector<std::string>{};
      options.dns_names = {"peer.ndx.test"};
      break;
    case CertificateDefect::kCaLeaf:
      options.is_ca_for_test = true;
      break;
    case CertificateDefect::kNoExtensions:
      options.no_extensions_for_test = true;
      break;
    case CertificateDefect::kClientAuthOnly:
      options.extended_key_usage_for_test = {.client_auth = true, .server_auth = false};
      break;
    case CertificateDefect::kServerAuthOnly:
      options.extended_key_usage_for_test = {.client_auth = false, .server_auth = true};
      break;
    case CertificateDefect::kNoExtendedKeyUsage:
      options.extended_key_usage_for_test = {.client_auth = false, .server_auth = false};
      break;
  }
  std::string kind = identity.is_node() ? "node" : "gateway";
  crypto::TlsFilePaths files =
      Issue(Label(absl::StrCat(DefectName(defect), "-", kind), identity.name()), ca_dir, options);
  // Issued under another CA, the files trust that CA; the holder should trust the platform.
  files.ca_file = ca_file_;
  return files;
}

std::string DefectName(CertificateDefect defect) {
  switch (defect) {
    case CertificateDefect::kNone:
      return "valid";
    case CertificateDefect::kExpired:
      return "expired";
    case CertificateDefect::kNotYetValid:
      return "not-yet-valid";
    case CertificateDefect::kOtherCa:
      return "other-ca";
    case CertificateDefect::kOtherTrustDomain:
      return "other-trust-domain";
    case CertificateDefect::kTwoUris:
      return "two-uris";
    case CertificateDefect::kDnsSanOnly:
      return "dns-san-only";
    case CertificateDefect::kCaLeaf:
      return "ca-leaf";
    case CertificateDefect::kNoExtensions:
      return "no-extensions";
    case CertificateDefect::kClientAuthOnly:
      return "client-auth-only";
    case CertificateDefect::kServerAuthOnly:
      return "server-auth-only";
    case CertificateDefect::kNoExtendedKeyUsage:
      return "no-extended-key-usage";
  }
  return "unknown";
}

}  // namespace ndx::testing
