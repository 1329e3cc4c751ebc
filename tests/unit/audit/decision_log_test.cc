#include "audit/decision_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <thread>

#include "absl/strings/str_split.h"
#include "common/files.h"
#include "nlohmann/json.hpp"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace ndx::audit {
namespace {

using ::ndx::testing::IsOk;

AuditRecord Allowed() {
  AuditRecord record;
  record.time = absl::FromUnixSeconds(1700000000);
  record.request_id = "0123456789abcdef0123456789abcdef";
  record.caller = "moh/insurance";
  record.dataset = "mops/residents";
  record.operation = "Get";
  record.purpose = "health-insurance-enrolment";
  record.fields = {"citizen_id", "full_name"};
  record.allowed = true;
  record.grant_id = "g-00112233aabbccdd";
  record.registry_revision = 42;
  record.latency = absl::Microseconds(850);
  record.response_bytes = 37;
  record.record_count = 1;
  return record;
}

absl::Status AppendNow(DecisionLog& log, AuditRecord record) {
  absl::Status result = absl::UnknownError("done was not called");
  log.Append(std::move(record), [&](absl::Status status) { result = std::move(status); });
  return result;
}

TEST(DecisionLogTest, AllowedRecordHasEveryField) {
  nlohmann::json json = nlohmann::json::parse(DecisionLog::ToJson(Allowed()));
  EXPECT_EQ(json["time"], "2023-11-14T22:13:20+00:00");
  EXPECT_EQ(json["request_id"], "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(json["caller"], "moh/insurance");
  EXPECT_EQ(json["dataset"], "mops/residents");
  EXPECT_EQ(json["operation"], "Get");
  EXPECT_EQ(json["purpose"], "health-insurance-enrolment");
  EXPECT_EQ(json["decision"], "allow");
  EXPECT_EQ(json["code"], "OK");
  EXPECT_EQ(json["grant"], "g-00112233aabbccdd");
  EXPECT_EQ(json["registry_revision"], 42);
  EXPECT_EQ(json["latency_us"], 850);
  EXPECT_EQ(json["fields"], nlohmann::json({"citizen_id", "full_name"}));
  EXPECT_EQ(json["records"], 1);
  EXPECT_EQ(json["bytes"], 37);
  EXPECT_FALSE(json.contains("reason"));
}

TEST(DecisionLogTest, RefusalCarriesItsReasonAndNoFields) {
  AuditRecord record = Allowed();
  record.allowed = false;
  record.code = absl::StatusCode::kPermissionDenied;
  record.reason = "purpose tax is not covered by grant g-1";
  nlohmann::json json = nlohmann::json::parse(DecisionLog::ToJson(record));
  EXPECT_EQ(json["decision"], "deny");
  EXPECT_EQ(json["code"], "PERMISSION_DENIED");
  EXPECT_EQ(json["reason"], "purpose tax is not covered by grant g-1");
  EXPECT_FALSE(json.contains("fields"));
}

TEST(DecisionLogTest, InvalidUtf8FromACallerDoesNotBreakTheLine) {
  AuditRecord record = Allowed();
  record.dataset = "mops/\xff\xfe";
  EXPECT_NO_THROW(nlohmann::json::parse(DecisionLog::ToJson(record)));
}

TEST(DecisionLogTest, ConcurrentAppendsWriteWholeLinesToAPrivateFile) {
  ndx::testing::TempDir dir;
  std::string path = dir.Join("decisions.jsonl");
  auto log = DecisionLog::Open(path);
  ASSERT_THAT(log, IsOk());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 250; ++i) EXPECT_THAT(AppendNow(**log, Allowed()), IsOk());
    });
  }
  for (std::thread& thread : threads) thread.join();
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string content = *ReadFile(path);
  std::vector<std::string> lines = absl::StrSplit(content, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1000u);
  for (const std::string& line : lines) {
    EXPECT_EQ(nlohmann::json::parse(line)["caller"], "moh/insurance");
  }
}

TEST(DecisionLogTest, UnwritableLocationIsUnavailable) {
  EXPECT_THAT(DecisionLog::Open("/nonexistent-dir/decisions.jsonl"),
              ndx::testing::StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace ndx::audit
