#include "common/logging.h"

#include <spdlog/sinks/ostream_sink.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ndx {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// The process's logger, writing into a string for the length of a test.
class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("ndx-test", sink));
  }
  void TearDown() override {
    SetLogFormat(LogFormat::kText);
    spdlog::set_default_logger(previous_);
  }

  std::vector<std::string> Lines() const {
    return absl::StrSplit(out_.str(), '\n', absl::SkipEmpty());
  }

  static constexpr CallFields kCall = {.request_id = "0123abcd",
                                       .caller = "moh/insurance",
                                       .method = "Get",
                                       .dataset = "mops/residents",
                                       .code = absl::StatusCode::kPermissionDenied,
                                       .latency = absl::Microseconds(1234)};

  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(LoggingTest, JsonLinesHoldOneObjectPerEventWithTheCallsMembers) {
  SetLogFormat(LogFormat::kJson);
  spdlog::info("registry at {} (revision {})", "/var/lib/ndx", 7);
  LogCall(spdlog::level::info, kCall, "refused: purpose x is not covered by grant g-1");
  // Bytes that are not UTF-8 (a name from the network) are replaced, not written as they came.
  spdlog::warn("odd \xff name");
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 3u);

  const nlohmann::json plain = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(plain["level"], "info");
  EXPECT_EQ(plain["program"], "ndx-test");
  EXPECT_EQ(plain["message"], "registry at /var/lib/ndx (revision 7)");
  EXPECT_THAT(plain["time"].get<std::string>(),
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{6}Z"));
  EXPECT_FALSE(plain.contains("request_id"));

  const nlohmann::json call = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(call["request_id"], "0123abcd");
  EXPECT_EQ(call["caller"], "moh/insurance");
  EXPECT_EQ(call["method"], "Get");
  EXPECT_EQ(call["dataset"], "mops/residents");
  EXPECT_EQ(call["code"], "PERMISSION_DENIED");
  EXPECT_EQ(call["latency_us"], 1234);
  EXPECT_EQ(call["message"], "refused: purpose x is not covered by grant g-1");

  EXPECT_EQ(nlohmann::json::parse(lines[2])["message"], "odd \xEF\xBF\xBD name");
}

TEST_F(LoggingTest, TextLinesSayTheSameInKeyValuePairs) {
  SetLogFormat(LogFormat::kText);
  LogCall(spdlog::level::info, kCall, "refused: no grant");
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("I ndx-test: Get request_id=0123abcd caller=moh/insurance "
                                  "dataset=mops/residents code=PERMISSION_DENIED "
                                  "latency_us=1234: refused: no grant"));
}

TEST_F(LoggingTest, CallsBelowTheLevelCostNothingAndWriteNothing) {
  SetLogFormat(LogFormat::kJson);
  spdlog::default_logger()->set_level(spdlog::level::info);
  LogCall(spdlog::level::debug, kCall, "answered");
  EXPECT_TRUE(Lines().empty());
}

TEST(LogFormatTest, NamesAreTextAndJson) {
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_FALSE(ParseLogFormat("xml").ok());
}

}  // namespace
}  // namespace ndx
