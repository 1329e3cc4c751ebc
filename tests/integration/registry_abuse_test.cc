// A node without any role tries to fill the gateway's registry: huge grant requests and a
// request with hundreds of thousands of purposes. Each is refused at once; the gateway's memory
// and the registry's files stay as they were; reads go on meanwhile; listings keep working.

#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "integration/federation.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

constexpr char kPurpose[] = "health-insurance-enrolment";

// The resident set size of `pid` in KiB, from /proc.
int64_t ResidentKiB(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string text;
  while (std::getline(status, text)) {
    absl::string_view line = text;
    if (absl::ConsumePrefix(&line, "VmRSS:")) {
      int64_t kib = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::StripSuffix(line, "kB")), &kib)) {
        return kib;
      }
    }
  }
  ADD_FAILURE() << "no VmRSS for process " << pid;
  return 0;
}

// The bytes of the registry's own RocksDB files (the audit log and event store below it left
// out: refusals are audited).
uint64_t RegistryBytes(const std::string& dir) {
  uint64_t bytes = 0;
  for (const auto& file : std::filesystem::directory_iterator(dir)) {
    if (file.is_regular_file()) bytes += file.file_size();
  }
  return bytes;
}

grpc::Status RequestGrant(Federation& federation, const v1::RequestGrantRequest& request) {
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(20));
  v1::Grant grant;
  return federation.RegistryAs(kCivilNode)->RequestGrant(&context, request, &grant);
}

TEST(RegistryAbuseTest, OversizedGrantRequestsAreRefusedAndChangeNothing) {
  Federation federation;
  ASSERT_THAT(federation.StartPopulationAdapter(), IsOk());
  ASSERT_THAT(federation.StartGateway(), IsOk());
  ASSERT_THAT(federation.RegisterNodesAndResidents(), IsOk());
  ASSERT_THAT(federation.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
              IsOk());
  auto read = [exchange = federation.ExchangeAs(kInsuranceNode)] {
    return GetResident(*exchange, "001090000001", kPurpose).ok();
  };
  v1::RequestGrantRequest huge;
  huge.set_dataset(kResidents);
  huge.add_fields("full_name");
  huge.add_purposes(kPurpose);
  huge.mutable_expires_at()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24)));
  huge.set_justification(std::string(3900 * 1024, 'j'));

  // The gateway's working set once it has served reads and received one large message (its
  // connections, buffers and caches), to which the attack must add nothing.
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(read());
  ASSERT_EQ(RequestGrant(federation, huge).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const std::string registry_dir = federation.dir().Join("registry");
  const int64_t rss_before = ResidentKiB(federation.gateway_pid());
  const uint64_t bytes_before = RegistryBytes(registry_dir);

  // Reads of a consumer go on while the attack runs.
  std::atomic<bool> attacking{true};
  std::atomic<int> reads{0}, failed_reads{0};
  std::thread reader([&] {
    while (attacking.load()) (read() ? reads : failed_reads)++;
  });
  for (int i = 0; i < 25; ++i) {
    grpc::Status status = RequestGrant(federation, huge);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_EQ(status.error_message(),
              "justification is 3993600 bytes long; at most 4096 are allowed");
  }
  v1::RequestGrantRequest many = huge;
  many.clear_justification();
  for (int i = 0; i < 300000; ++i) many.add_purposes("p");
  grpc::Status status = RequestGrant(federation, many);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "purposes has 300001 entries; at most 32 are allowed");

  attacking = false;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(failed_reads.load(), 0);

  // Nothing was kept: the attack without limits took the gateway from 29 to 209 MiB and the
  // registry to 78 MB; what remains is allocator noise.
  const int64_t rss_growth = ResidentKiB(federation.gateway_pid()) - rss_before;
  const int64_t bytes_growth = static_cast<int64_t>(RegistryBytes(registry_dir) - bytes_before);
  ::testing::Test::RecordProperty("gateway_rss_growth_kib", std::to_string(rss_growth));
  ::testing::Test::RecordProperty("registry_growth_bytes", std::to_string(bytes_growth));
  EXPECT_LT(rss_growth, 32 * 1024);
  EXPECT_LT(bytes_growth, 64 * 1024);

  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::ListGrantsResponse grants;
  status =
      federation.RegistryAs(kOperatorNode)->ListGrants(&context, v1::ListGrantsRequest(), &grants);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(grants.grants_size(), 1);
}

}  // namespace
}  // namespace ndx::testing
