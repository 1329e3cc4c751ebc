#include "crypto/pki.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "crypto/tls.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"

namespace ndx::crypto {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// OpenSSL used directly, as an oracle independent of the code under test.
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

X509Ptr ReadCert(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  EXPECT_TRUE(pem.ok()) << pem.status();
  if (!pem.ok()) return nullptr;
  BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
  X509Ptr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  EXPECT_NE(cert, nullptr) << path;
  return cert;
}

// X509_V_OK when `leaf_file` chains to `ca_file` for TLS client and server use, now.
int VerifyChain(const std::string& ca_file, const std::string& leaf_file) {
  X509Ptr ca = ReadCert(ca_file);
  X509Ptr leaf = ReadCert(leaf_file);
  if (ca == nullptr || leaf == nullptr) return -1;
  int result = X509_V_OK;
  for (int purpose : {X509_PURPOSE_SSL_CLIENT, X509_PURPOSE_SSL_SERVER}) {
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, ca.get());
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf.get(), nullptr);
    X509_STORE_CTX_set_purpose(ctx, purpose);
    if (X509_verify_cert(ctx) != 1) result = X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
  }
  return result;
}

unsigned FileMode(const std::string& path) {
  struct stat st = {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

bool IsCritical(X509* cert, int nid) {
  X509_EXTENSION* ext = X509_get_ext(cert, X509_get_ext_by_NID(cert, nid, -1));
  return ext != nullptr && X509_EXTENSION_get_critical(ext) == 1;
}

CaOptions TestCaOptions() {
  CaOptions options;
  options.trust_domain = "ndx.test";
  return options;
}

LeafOptions NodeLeaf(const std::string& node_id) {
  LeafOptions options;
  options.identity = SpiffeId::Node("ndx.test", node_id);
  return options;
}

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_THAT(CreateCa(ca_dir_, TestCaOptions()), IsOk()); }

  ndx::testing::TempDir dir_;
  std::string ca_dir_ = dir_.Join("ca");
  std::string out_dir_ = dir_.Join("out");
};

TEST_F(PkiTest, CaHasRestrictedModesAndCaFields) {
  EXPECT_EQ(FileMode(ca_dir_), 0700u);
  EXPECT_EQ(FileMode(ca_dir_ + "/ca.key"), 0600u);
  EXPECT_EQ(FileMode(ca_dir_ + "/ca.pem"), 0644u);
  absl::StatusOr<CertificateInfo> info = InspectCertificate(*ReadFile(ca_dir_ + "/ca.pem"));
  ASSERT_THAT(info, IsOk());
  EXPECT_TRUE(info->is_ca);
  EXPECT_EQ(info->subject, "CN=ndx platform CA (ndx.test)");
  EXPECT_THAT(info->uris, ElementsAre("spiffe://ndx.test"));
  EXPECT_LE(info->not_before, absl::Now());
  EXPECT_GT(info->not_after, absl::Now() + absl::Hours(24 * 365 * 4));

  X509Ptr ca = ReadCert(ca_dir_ + "/ca.pem");
  ASSERT_NE(ca, nullptr);
  EXPECT_TRUE(IsCritical(ca.get(), NID_basic_constraints));
  EXPECT_EQ(X509_get_key_usage(ca.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_get_signature_nid(ca.get()), NID_ecdsa_with_SHA256);
}

TEST_F(PkiTest, CaRefusesOverwrite) {
  std::string before = *ReadFile(ca_dir_ + "/ca.key");
  EXPECT_THAT(CreateCa(ca_dir_, TestCaOptions()),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("ca.key")));
  EXPECT_EQ(*ReadFile(ca_dir_ + "/ca.key"), before);
}

TEST_F(PkiTest, CaRefusesBadOptions) {
  CaOptions options = TestCaOptions();
  for (const char* trust_domain : {"", "Ndx.test", "ndx..test", "ndx.test:443", "ndx/test"}) {
    options.trust_domain = trust_domain;
    EXPECT_THAT(CreateCa(dir_.Join("bad"), options), StatusIs(absl::StatusCode::kInvalidArgument))
        << trust_domain;
  }
  options = TestCaOptions();
  options.validity = absl::ZeroDuration();
  EXPECT_THAT(CreateCa(dir_.Join("bad"), options), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(PkiTest, IssuedCertificateHasIdentityAndChainsToCa) {
  LeafOptions options = NodeLeaf("moh/insurance");
  options.dns_names = {"adapter.moh.test"};
  options.ip_addresses = {"127.0.0.1", "::1"};
  options.validity = absl::Hours(48);
  absl::Time before = absl::Now();
  ASSERT_THAT(IssueCertificate(ca_dir_, out_dir_, "adapter", options), IsOk());

  EXPECT_EQ(FileMode(out_dir_), 0700u);
  EXPECT_EQ(FileMode(out_dir_ + "/adapter.key"), 0600u);
  EXPECT_EQ(FileMode(out_dir_ + "/adapter.pem"), 0644u);
  EXPECT_EQ(*ReadFile(out_dir_ + "/ca.pem"), *ReadFile(ca_dir_ + "/ca.pem"));
  EXPECT_EQ(VerifyChain(ca_dir_ + "/ca.pem", out_dir_ + "/adapter.pem"), X509_V_OK);

  absl::StatusOr<CertificateInfo> info = InspectCertificate(*ReadFile(out_dir_ + "/adapter.pem"));
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->subject, "CN=moh/insurance");
  EXPECT_THAT(info->uris, ElementsAre("spiffe://ndx.test/node/moh/insurance"));
  EXPECT_THAT(info->dns_names, ElementsAre("adapter.moh.test"));
  EXPECT_THAT(info->ip_addresses, ElementsAre("127.0.0.1", "::1"));
  EXPECT_FALSE(info->is_ca);
  // Backdated by a minute for clock skew; ASN.1 times have one-second resolution.
  EXPECT_LE(info->not_before, before - absl::Seconds(59));
  EXPECT_GE(info->not_before, before - absl::Seconds(62));
  EXPECT_EQ(info->not_after - info->not_before, absl::Hours(48));
  EXPECT_EQ(info->sha256_fingerprint.size(), 64u);
  EXPECT_EQ(info->sha256_fingerprint.find_first_not_of("0123456789abcdef"), std::string::npos);

  X509Ptr leaf = ReadCert(out_dir_ + "/adapter.pem");
  ASSERT_NE(leaf, nullptr);
  EXPECT_TRUE(IsCritical(leaf.get(), NID_basic_constraints));
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_TRUE(IsCritical(leaf.get(), NID_key_usage));
  EXPECT_EQ(X509_get_key_usage(leaf.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_NE(X509_get_extension_flags(leaf.get()) & EXFLAG_XKUSAGE, 0u);
  EXPECT_EQ(X509_get_extended_key_usage(leaf.get()),
            static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  EXPECT_EQ(X509_get_signature_nid(leaf.get()), NID_ecdsa_with_SHA256);
  EVP_PKEY* key = X509_get0_pubkey(leaf.get());
  char group[64] = {};
  ASSERT_EQ(EVP_PKEY_get_group_name(key, group, sizeof(group), nullptr), 1);
  EXPECT_STREQ(group, "prime256v1");
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf.get()), nullptr);
  EXPECT_GT(BN_num_bits(serial), 64);
  EXPECT_LE(BN_num_bits(serial), 128);
  BN_free(serial);
}

TEST_F(PkiTest, SerialNumbersAndKeysDiffer) {
  ASSERT_THAT(IssueCertificate(ca_dir_, out_dir_, "a", NodeLeaf("moh/a")), IsOk());
  ASSERT_THAT(IssueCertificate(ca_dir_, out_dir_, "b", NodeLeaf("moh/a")), IsOk());
  X509Ptr a = ReadCert(out_dir_ + "/a.pem");
  X509Ptr b = ReadCert(out_dir_ + "/b.pem");
  ASSERT_TRUE(a && b);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(a.get()), X509_get0_serialNumber(b.get())), 0);
  EXPECT_NE(*ReadFile(out_dir_ + "/a.key"), *ReadFile(out_dir_ + "/b.key"));
}

TEST_F(PkiTest, RenewKeepsKeyAndIdentityWithANewSerialAndValidity) {
  LeafOptions leaf = NodeLeaf("moh/insurance");
  leaf.dns_names = {"insurance.example"};
  leaf.validity = absl::Hours(24 * 10);
  ASSERT_THAT(IssueCertificate(ca_dir_, out_dir_, "tls", leaf), IsOk());
  const std::string path = out_dir_ + "/tls.pem";
  const std::string key_before = *ReadFile(out_dir_ + "/tls.key");
  X509Ptr before = ReadCert(path);

  absl::StatusOr<std::string> renewed = RenewCertificate(ca_dir_, path, absl::Hours(24 * 90));
  ASSERT_THAT(renewed, IsOk());
  EXPECT_EQ(*ReadFile(path), *renewed);
  EXPECT_EQ(FileMode(path), 0644u);
  EXPECT_EQ(*ReadFile(out_dir_ + "/tls.key"), key_before);
  X509Ptr after = ReadCert(path);
  ASSERT_TRUE(before && after);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(before.get()), X509_get0_pubkey(after.get())), 1);
  EXPECT_NE(
      ASN1_INTEGER_cmp(X509_get0_serialNumber(before.get()), X509_get0_serialNumber(after.get())),
      0);
  absl::StatusOr<CertificateInfo> info = InspectCertificate(*renewed);
  ASSERT_THAT(info, IsOk());
  EXPECT_THAT(info->uris, ElementsAre("spiffe://ndx.test/node/moh/insurance"));
  EXPECT_THAT(info->dns_names, ElementsAre("insurance.example"));
  EXPECT_GT(info->not_after, absl::Now() + absl::Hours(24 * 89));
  EXPECT_THAT(CheckLeafCertificate(*renewed, PeerRole::kClient, "ndx.test"), IsOk());

  // Only the CA that signed a certificate renews it.
  CaOptions other = TestCaOptions();
  ASSERT_THAT(CreateCa(dir_.Join("other-ca"), other), IsOk());
  EXPECT_THAT(RenewCertificate(dir_.Join("other-ca"), path, absl::Hours(24)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was not signed by")));
  EXPECT_EQ(*ReadFile(path), *renewed);
}

TEST_F(PkiTest, GatewayCertificate) {
  LeafOptions options;
  options.identity = SpiffeId::Gateway("ndx.test", "gw-1");
  ASSERT_THAT(IssueCertificate(ca_dir_, out_dir_, "gateway", options), IsOk());
  absl::StatusOr<CertificateInfo> info = InspectCertificate(*ReadFile(out_dir_ + "/gateway.pem"));
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->subject, "CN=gw-1");
  EXPECT_THAT(info->uris, ElementsAre("spiffe://ndx.test/gateway/gw-1"));
  EXPECT_THAT(info->dns_names, IsEmpty());
}

TEST_F(PkiTest, IssueRefusesOverwrite) {
  ASSERT_THAT(IssueCertificate(ca_dir_, out_dir_, "node", NodeLeaf("moh/a")), IsOk());
  std::string before = *ReadFile(out_dir_ + "/node.key");
  EXPECT_THAT(IssueCertificate(ca_dir_, out_dir_, "node", NodeLeaf("moh/b")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("node.key")));
  EXPECT_EQ(*ReadFile(out_dir_ + "/node.key"), before);
}

TEST_F(PkiTest, IssueRefusesCaKeyOpenToGroupOrOthers) {
  const std::string key = ca_dir_ + "/ca.key";
  for (const char* mode : {"0640", "0604"}) {
    ASSERT_EQ(::chmod(key.c_str(), std::stoi(mode, nullptr, 8)), 0);
    EXPECT_THAT(IssueCertificate(ca_dir_, out_dir_, "node", NodeLeaf("moh/a")),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         absl::StrCat("key file ", key, " has mode ", mode,
                                      " and is open to group or others; run: chmod 600 ", key)));
    EXPECT_FALSE(std::filesystem::exists(out_dir_ + "/node.key")) << mode;
  }
  int issued = 0;
  for (int mode : {0600, 0400}) {
    ASSERT_EQ(::chmod(key.c_str(), mode), 0);
    EXPECT_THAT(
        IssueCertificate(ca_dir_, out_dir_, absl::StrCat("node", ++issued), NodeLeaf("moh/a")),
        IsOk())
        << mode;
  }
}

// The binaries run with umask 077 (InitProcess); certificates are meant to be handed out, and
// keep 0644 because they are written with an explicit mode.
TEST_F(PkiTest, ModesDoNotDependOnTheUmask) {
  mode_t old_umask = ::umask(077);
  absl::Status issued = IssueCertificate(ca_dir_, out_dir_, "node", NodeLeaf("moh/a"));
  absl::Status made = CreateCa(dir_.Join("ca2"), TestCaOptions());
  ::umask(old_umask);
  ASSERT_THAT(issued, IsOk());
  ASSERT_THAT(made, IsOk());
  EXPECT_EQ(FileMode(out_dir_ + "/node.key"), 0600u);
  EXPECT_EQ(FileMode(out_dir_ + "/node.pem"), 0644u);
  EXPECT_EQ(FileMode(out_dir_ + "/ca.pem"), 0644u);
  EXPECT_EQ(FileMode(dir_.Join("ca2/ca.key")), 0600u);
  EXPECT_EQ(FileMode(dir_.Join("ca2/ca.pem")), 0644u);
}

TEST_F(PkiTest, IssueRefusesOtherTrustDomain) {
  LeafOptions options;
  options.identity = SpiffeId::Node("other.test", "moh/a");
  EXPECT_THAT(IssueCertificate(ca_dir_, out_dir_, "node", options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"ndx.test\"")));
  EXPECT_FALSE(std::filesystem::exists(out_dir_ + "/node.key"));
}

TEST_F(PkiTest, IssueRefusesBadInput) {
  EXPECT_THAT(IssueCertificate(ca_dir_, out_dir_, "node", LeafOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("identity")));
  EXPECT_THAT(IssueCertificate(ca_dir_, out_dir_, "node", NodeLeaf("Moh/a")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("identity")));
  for (const char* basename : {"", "ca", "../x", ".hidden", "a/b"}) {
    EXPECT_THAT(IssueCertificate(ca_dir_, out_dir_, basename, NodeLeaf("moh/a")),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("base name")))
        << basename;
  }
  LeafOptions options = NodeLeaf("moh/a");
  options.ip_addresses = {"300.1.1.1"};
  EXPECT_THAT(IssueCertificate(ca_dir_, out_dir_, "node", options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("IP address")));
  options = NodeLeaf("moh/a");
  options.dns_names = {"a,URI:spiffe://ndx.test/gateway/evil"};
  EXPECT_THAT(IssueCertificate(ca_dir_, out_dir_, "node", options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("DNS name")));
  options = NodeLeaf("moh/a");
  options.validity = -absl::Hours(1);
  EXPECT_THAT(IssueCertificate(ca_dir_, out_dir_, "node", options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("validity")));
  EXPECT_THAT(IssueCertificate(dir_.Join("no-ca"), out_dir_, "node", NodeLeaf("moh/a")),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(std::filesystem::exists(out_dir_ + "/node.key"));
}

TEST_F(PkiTest, ExpiredAndOtherCaCertificatesFailVerification) {
  LeafOptions expired = NodeLeaf("moh/a");
  expired.not_before = absl::Now() - absl::Hours(48);
  expired.validity = absl::Hours(24);
  ASSERT_THAT(IssueCertificate(ca_dir_, out_dir_, "expired", expired), IsOk());
  EXPECT_EQ(VerifyChain(ca_dir_ + "/ca.pem", out_dir_ + "/expired.pem"),
            X509_V_ERR_CERT_HAS_EXPIRED);

  std::string other_ca = dir_.Join("other-ca");
  ASSERT_THAT(CreateCa(other_ca, TestCaOptions()), IsOk());
  ASSERT_THAT(IssueCertificate(other_ca, out_dir_, "other", NodeLeaf("moh/a")), IsOk());
  EXPECT_EQ(VerifyChain(other_ca + "/ca.pem", out_dir_ + "/other.pem"), X509_V_OK);
  EXPECT_NE(VerifyChain(ca_dir_ + "/ca.pem", out_dir_ + "/other.pem"), X509_V_OK);
}

TEST_F(PkiTest, TestKnobsMakeBadCertificates) {
  LeafOptions options = NodeLeaf("moh/a");
  options.uris_for_test = {"spiffe://ndx.test/node/moh/a", "spiffe://other.test/gateway/second"};
  options.is_ca_for_test = true;
  ASSERT_THAT(IssueCertificate(ca_dir_, out_dir_, "bad", options), IsOk());
  absl::StatusOr<CertificateInfo> info = InspectCertificate(*ReadFile(out_dir_ + "/bad.pem"));
  ASSERT_THAT(info, IsOk());
  EXPECT_TRUE(info->is_ca);
  EXPECT_THAT(info->uris,
              ElementsAre("spiffe://ndx.test/node/moh/a", "spiffe://other.test/gateway/second"));
  X509Ptr bad = ReadCert(out_dir_ + "/bad.pem");
  ASSERT_NE(bad, nullptr);
  EXPECT_NE(X509_get_key_usage(bad.get()) & KU_KEY_CERT_SIGN, 0u);

  options = NodeLeaf("moh/a");
  options.uris_for_test = std::vector<std::string>{};
  options.dns_names = {"a.ndx.test"};
  ASSERT_THAT(IssueCertificate(ca_dir_, out_dir_, "dns", options), IsOk());
  info = InspectCertificate(*ReadFile(out_dir_ + "/dns.pem"));
  ASSERT_THAT(info, IsOk());
  EXPECT_THAT(info->uris, IsEmpty());
  EXPECT_THAT(info->dns_names, ElementsAre("a.ndx.test"));

  options = NodeLeaf("moh/a");
  options.no_extensions_for_test = true;
  ASSERT_THAT(IssueCertificate(ca_dir_, out_dir_, "bare", options), IsOk());
  X509Ptr bare = ReadCert(out_dir_ + "/bare.pem");
  ASSERT_NE(bare, nullptr);
  EXPECT_EQ(X509_get_ext_count(bare.get()), 0);
  EXPECT_EQ(VerifyChain(ca_dir_ + "/ca.pem", out_dir_ + "/bare.pem"), X509_V_OK);

  struct UsageCase {
    const char* name;
    ExtendedKeyUsage usage;
    uint32_t expected;  // X509_get_extended_key_usage: UINT32_MAX when there is no extension
  };
  for (const UsageCase& c : {UsageCase{"client", {true, false}, XKU_SSL_CLIENT},
                             UsageCase{"server", {false, true}, XKU_SSL_SERVER},
                             UsageCase{"none", {false, false}, UINT32_MAX}}) {
    options = NodeLeaf("moh/a");
    options.extended_key_usage_for_test = c.usage;
    ASSERT_THAT(IssueCertificate(ca_dir_, out_dir_, c.name, options), IsOk());
    X509Ptr cert = ReadCert(absl::StrCat(out_dir_, "/", c.name, ".pem"));
    ASSERT_NE(cert, nullptr);
    EXPECT_EQ(X509_get_extended_key_usage(cert.get()), c.expected) << c.name;
  }
}

TEST(InspectCertificateTest, RefusesNonCertificate) {
  EXPECT_THAT(InspectCertificate("not a certificate"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PEM certificate")));
}

TEST(TestPkiTest, IssuesTheAdvertisedIdentities) {
  ndx::testing::TestPki pki;
  crypto::TlsFilePaths node = pki.Node("moh/insurance");
  EXPECT_EQ(pki.Node("moh/insurance").key_file, node.key_file);  // cached
  EXPECT_EQ(*ReadFile(node.ca_file), *ReadFile(pki.ca_file()));
  auto uris = [](const crypto::TlsFilePaths& files) {
    return InspectCertificate(*ReadFile(files.cert_file))->uris;
  };
  EXPECT_THAT(uris(node), ElementsAre("spiffe://ndx.test/node/moh/insurance"));
  EXPECT_THAT(uris(pki.Gateway("gw")), ElementsAre("spiffe://ndx.test/gateway/gw"));
  EXPECT_THAT(uris(pki.TwoUriNode("moh/a")),
              ElementsAre("spiffe://ndx.test/node/moh/a", "spiffe://ndx.test/gateway/second-uri"));
  EXPECT_THAT(uris(pki.WrongTrustDomainNode("moh/a")),
              ElementsAre("spiffe://other.test/node/moh/a"));
  EXPECT_EQ(VerifyChain(pki.ca_file(), node.cert_file), X509_V_OK);
  EXPECT_EQ(VerifyChain(pki.ca_file(), pki.ExpiredNode("moh/a").cert_file),
            X509_V_ERR_CERT_HAS_EXPIRED);
  EXPECT_NE(VerifyChain(pki.ca_file(), pki.OtherCaNode("moh/a").cert_file), X509_V_OK);
  EXPECT_NE(VerifyChain(pki.ca_file(), pki.WrongTrustDomainNode("moh/a").cert_file), X509_V_OK);
  EXPECT_THAT(uris(pki.OtherCaNode("moh/a")), ElementsAre("spiffe://ndx.test/node/moh/a"));
}

}  // namespace
}  // namespace ndx::crypto
