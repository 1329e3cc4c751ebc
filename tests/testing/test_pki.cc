#include "testing/test_pki.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace ndx::testing {
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

crypto::LeafOptions NodeOptions(const std::string& trust_domain, const std::string& node_id) {
  crypto::LeafOptions options;
  options.identity = crypto::SpiffeId::Node(trust_domain, node_id);
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
  return Issue(Label("gateway", name), ca_dir_, options);
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
  crypto::LeafOptions options = NodeOptions(kTrustDomain, node_id);
  options.extra_uris_for_test = {absl::StrCat("spiffe://", kTrustDomain, "/gateway/second-uri")};
  return Issue(Label("two-uri-node", node_id), ca_dir_, options);
}

crypto::TlsFilePaths TestPki::WrongTrustDomainNode(const std::string& node_id) {
  return Issue(Label("wrong-td-node", node_id), Ca("other-td-ca", "other.test"),
               NodeOptions("other.test", node_id));
}

}  // namespace ndx::testing
