#include "crypto/certificate_expiry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/pki.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace ndx::crypto {
namespace {

using ::ndx::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ExpiryWarningsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CaOptions ca;
    ca.trust_domain = "ndx.test";
    ca.validity = absl::Hours(24 * 365);
    ASSERT_THAT(CreateCa(dir_.Join("ca"), ca), IsOk());
  }

  // Issues node moh/insurance's certificate, valid for `validity` from now.
  TlsFilePaths Issue(absl::Duration validity) {
    LeafOptions leaf;
    leaf.identity = SpiffeId::Node("ndx.test", "moh/insurance");
    leaf.validity = validity;
    EXPECT_THAT(IssueCertificate(dir_.Join("ca"), dir_.Join("node"), "tls", leaf), IsOk());
    return {dir_.Join("node/ca.pem"), dir_.Join("node/tls.pem"), dir_.Join("node/tls.key")};
  }

  ndx::testing::TempDir dir_;
};

TEST_F(ExpiryWarningsTest, NamesTheCertificatesThatExpireSoon) {
  TlsFilePaths files = Issue(absl::Hours(24 * 10));
  const absl::Time now = absl::Now();
  EXPECT_THAT(ExpiryWarnings(files, now, absl::Hours(24 * 9)), IsEmpty());

  std::vector<std::string> warnings = ExpiryWarnings(files, now, absl::Hours(24 * 30));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr(absl::StrCat("certificate ", files.cert_file,
                                                  " (spiffe://ndx.test/node/moh/insurance) "
                                                  "expires at ")));
  EXPECT_THAT(warnings[0], HasSubstr(", in 9 days 23 hours: renew it before"));

  // The CA is named too once it comes near its end; an expired certificate says so.
  warnings = ExpiryWarnings(files, now + absl::Hours(24 * 364), absl::Hours(24 * 30));
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_THAT(warnings[0], HasSubstr("expired at"));
  EXPECT_THAT(warnings[0], HasSubstr("peers refuse it: renew it now"));
  EXPECT_THAT(warnings[1], HasSubstr(absl::StrCat("CA certificate ", files.ca_file)));
}

TEST_F(ExpiryWarningsTest, AFileThatCannotBeReadIsNamed) {
  TlsFilePaths files{dir_.Join("missing-ca.pem"), dir_.Join("missing.pem"), ""};
  EXPECT_THAT(
      ExpiryWarnings(files, absl::Now(), absl::Hours(1)),
      ElementsAre(HasSubstr("certificate " + files.cert_file + " cannot be checked for expiry"),
                  HasSubstr("CA certificate " + files.ca_file)));
}

}  // namespace
}  // namespace ndx::crypto
