#include "metrics/certificate_collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "crypto/pki.h"
#include "metrics/exposition.h"
#include "testing/fake_clock.h"
#include "testing/prometheus_text.h"
#include "testing/test_pki.h"

namespace ndx::metrics {
namespace {

using ::ndx::testing::FakeClock;
using ::ndx::testing::PrometheusSample;
using ::ndx::testing::PrometheusText;
using ::ndx::testing::TestPki;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kName[] = "ndx_certificate_expiry_seconds";

crypto::CertificateInfo Inspect(const std::string& file) {
  absl::StatusOr<std::string> pem = ReadFile(file);
  EXPECT_TRUE(pem.ok()) << pem.status();
  absl::StatusOr<crypto::CertificateInfo> info = crypto::InspectCertificate(pem.value_or(""));
  EXPECT_TRUE(info.ok()) << info.status();
  return info.value_or(crypto::CertificateInfo());
}

absl::Time NotAfter(const std::string& file) { return Inspect(file).not_after; }

PrometheusText Scrape(const CertificateCollector& collector) {
  const prometheus::Collectable* sources[] = {&collector};
  absl::StatusOr<PrometheusText> text = PrometheusText::Parse(RenderText(sources));
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *std::move(text) : PrometheusText();
}

class CertificateCollectorTest : public ::testing::Test {
 protected:
  TestPki pki_;
  FakeClock clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
};

TEST_F(CertificateCollectorTest, SecondsUntilTheLeafAndTheCaExpire) {
  crypto::TlsFilePaths files = pki_.Node("moh/insurance");
  CertificateCollector collector(files, &clock_);
  PrometheusText text = Scrape(collector);
  ASSERT_THAT(text.Find(kName), SizeIs(2));
  EXPECT_EQ(text.Value(kName, {{"role", "certificate"},
                               {"file", files.cert_file},
                               {"identity", "spiffe://ndx.test/node/moh/insurance"},
                               {"fingerprint", Inspect(files.cert_file).sha256_fingerprint}})
                .value_or(-1),
            absl::ToDoubleSeconds(NotAfter(files.cert_file) - clock_.Now()));
  // A CA is named by its subject: every CA of the platform has the trust domain as URI SAN.
  EXPECT_THAT(Inspect(files.ca_file).subject, ::testing::HasSubstr("ndx test CA"));
  EXPECT_EQ(text.Value(kName, {{"role", "ca"},
                               {"file", files.ca_file},
                               {"identity", Inspect(files.ca_file).subject},
                               {"fingerprint", Inspect(files.ca_file).sha256_fingerprint}})
                .value_or(-1),
            absl::ToDoubleSeconds(NotAfter(files.ca_file) - clock_.Now()));

  // Read at each scrape: time passing shows.
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(Scrape(collector)
                .Single(kName, {{"role", "certificate"}, {"file", files.cert_file}})
                .value_or(-1),
            absl::ToDoubleSeconds(NotAfter(files.cert_file) - clock_.Now()));
}

TEST_F(CertificateCollectorTest, AnExpiredCertificateIsNegative) {
  crypto::TlsFilePaths files = pki_.ExpiredNode("moh/insurance");
  PrometheusText text = Scrape(CertificateCollector(files, &clock_));
  std::vector<PrometheusSample> leaf = text.Find(kName, {{"role", "certificate"}});
  ASSERT_THAT(leaf, SizeIs(1));
  EXPECT_LT(leaf[0].value, 0);
}

TEST_F(CertificateCollectorTest, EveryCaOfABundle) {
  crypto::TlsFilePaths files = pki_.Node("moh/insurance");
  crypto::TlsFilePaths other = pki_.OtherCaNode("moh/insurance");
  const std::string bundle = pki_.dir() + "/bundle.pem";
  ASSERT_TRUE(
      WriteFileAtomically(
          bundle, ReadFile(files.ca_file).value_or("") + ReadFile(other.ca_file).value_or(""), 0644)
          .ok());
  files.ca_file = bundle;
  PrometheusText text = Scrape(CertificateCollector(files, &clock_));
  std::vector<PrometheusSample> cas = text.Find(kName, {{"role", "ca"}, {"file", bundle}});
  ASSERT_THAT(cas, SizeIs(2));
  // Two series, not one label set twice.
  EXPECT_NE(cas[0].labels, cas[1].labels);
  EXPECT_NE(cas[0].labels.at("fingerprint"), cas[1].labels.at("fingerprint"));
}

TEST_F(CertificateCollectorTest, AFileThatCannotBeReadExportsNothing) {
  crypto::TlsFilePaths files = pki_.Node("moh/insurance");
  files.cert_file = pki_.dir() + "/missing.pem";
  PrometheusText text = Scrape(CertificateCollector(files, &clock_));
  EXPECT_THAT(text.Find(kName, {{"role", "certificate"}}), IsEmpty());
  EXPECT_THAT(text.Find(kName, {{"role", "ca"}}), SizeIs(1));
}

}  // namespace
}  // namespace ndx::metrics
