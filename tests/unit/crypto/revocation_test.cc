#include "crypto/revocation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "crypto/pki.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace ndx::crypto {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

class RevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CaOptions ca;
    ca.trust_domain = "ndx.test";
    ASSERT_THAT(CreateCa(dir_.Join("ca"), ca), IsOk());
    for (const char* node : {"moh/insurance", "moj/civil"}) {
      LeafOptions leaf;
      leaf.identity = SpiffeId::Node("ndx.test", node);
      std::string name = node == std::string("moh/insurance") ? "insurance" : "civil";
      ASSERT_THAT(IssueCertificate(dir_.Join("ca"), dir_.Join(name), "tls", leaf), IsOk());
    }
  }
  std::string Pem(const std::string& name) { return *ReadFile(dir_.Join(name + "/tls.pem")); }
  std::string Crl() { return dir_.Join("crl.pem"); }

  ndx::testing::TempDir dir_;
};

TEST_F(RevocationTest, ARevokedCertificateIsListedInTheSignedCrl) {
  const absl::Time now = absl::Now();
  ASSERT_THAT(WriteRevocationList(dir_.Join("ca"), Crl(), absl::Hours(24), now),
              ::ndx::testing::IsOkAndHolds(0));
  ASSERT_THAT(RevokeCertificate(dir_.Join("ca"), dir_.Join("insurance/tls.pem"), now), IsOk());
  ASSERT_THAT(RevokeCertificate(dir_.Join("ca"), dir_.Join("insurance/tls.pem"), now), IsOk());
  ASSERT_THAT(WriteRevocationList(dir_.Join("ca"), Crl(), absl::Hours(24), now),
              ::ndx::testing::IsOkAndHolds(1));

  absl::StatusOr<RevocationList> list =
      ParseRevocationList(*ReadFile(Crl()), *ReadFile(dir_.Join("ca/ca.pem")), now, "crl.pem");
  ASSERT_THAT(list, IsOk());
  EXPECT_TRUE(list->serials.contains(*CertificateSerial(Pem("insurance"))));
  EXPECT_FALSE(list->serials.contains(*CertificateSerial(Pem("civil"))));
  EXPECT_EQ(list->serials.size(), 1u);

  // Expired, or signed by another CA: refused, with what to do.
  EXPECT_THAT(ParseRevocationList(*ReadFile(Crl()), *ReadFile(dir_.Join("ca/ca.pem")),
                                  now + absl::Hours(25), "crl.pem"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("issue a new one with `ndxctl pki crl`")));
  CaOptions other;
  other.trust_domain = "ndx.test";
  ASSERT_THAT(CreateCa(dir_.Join("other"), other), IsOk());
  EXPECT_THAT(
      ParseRevocationList(*ReadFile(Crl()), *ReadFile(dir_.Join("other/ca.pem")), now, "crl.pem"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("is not a CRL signed by the platform CA")));
  EXPECT_THAT(RevokeCertificate(dir_.Join("other"), dir_.Join("civil/tls.pem"), now),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("was not signed by")));
}

TEST_F(RevocationTest, TheWatcherReloadsAChangedCrlAndKeepsTheLastGoodOne) {
  const std::string ca = dir_.Join("ca/ca.pem");
  EXPECT_THAT(RevocationWatcher::Start(Crl(), ca), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(WriteRevocationList(dir_.Join("ca"), Crl(), absl::Hours(24), absl::Now()), IsOk());
  absl::StatusOr<std::unique_ptr<RevocationWatcher>> watcher =
      RevocationWatcher::Start(Crl(), ca, absl::Milliseconds(20));
  ASSERT_THAT(watcher, IsOk());
  EXPECT_FALSE((*watcher)->IsRevoked(Pem("insurance")));

  ASSERT_THAT(RevokeCertificate(dir_.Join("ca"), dir_.Join("insurance/tls.pem"), absl::Now()),
              IsOk());
  ASSERT_THAT(WriteRevocationList(dir_.Join("ca"), Crl(), absl::Hours(24), absl::Now()), IsOk());
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!(*watcher)->IsRevoked(Pem("insurance")) && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE((*watcher)->IsRevoked(Pem("insurance")));
  EXPECT_FALSE((*watcher)->IsRevoked(Pem("civil")));
  EXPECT_TRUE((*watcher)->IsRevoked("not a certificate"));

  // A broken file is counted and the last good CRL stays in force.
  ASSERT_THAT(WriteFileAtomically(Crl(), "garbage", 0644), IsOk());
  give_up = absl::Now() + absl::Seconds(10);
  while ((*watcher)->reload_failures() == 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ((*watcher)->reload_failures(), 1u);
  EXPECT_TRUE((*watcher)->IsRevoked(Pem("insurance")));
}

TEST_F(RevocationTest, ACrlThatExpiresWhileInForceIsComplainedAboutAndKept) {
  ASSERT_THAT(RevokeCertificate(dir_.Join("ca"), dir_.Join("insurance/tls.pem"), absl::Now()),
              IsOk());
  ASSERT_THAT(WriteRevocationList(dir_.Join("ca"), Crl(), absl::Seconds(2), absl::Now()), IsOk());
  absl::StatusOr<std::unique_ptr<RevocationWatcher>> watcher =
      RevocationWatcher::Start(Crl(), dir_.Join("ca/ca.pem"), absl::Milliseconds(20));
  ASSERT_THAT(watcher, IsOk());
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while ((*watcher)->expired_complaints() == 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ((*watcher)->expired_complaints(), 1u);
  EXPECT_TRUE((*watcher)->IsRevoked(Pem("insurance")));
}

TEST_F(RevocationTest, AnExpiredCrlIsAStartUpError) {
  ASSERT_THAT(
      WriteRevocationList(dir_.Join("ca"), Crl(), absl::Hours(1), absl::Now() - absl::Hours(2)),
      IsOk());
  EXPECT_THAT(RevocationWatcher::Start(Crl(), dir_.Join("ca/ca.pem")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("expired at")));
}

}  // namespace
}  // namespace ndx::crypto
