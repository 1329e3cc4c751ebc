#include "audit/tee_sink.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace ndx::audit {
namespace {

// Records what it was given and answers with a fixed status.
class RecordingSink : public AuditSink {
 public:
  explicit RecordingSink(absl::Status answer, std::vector<std::string>* seen)
      : answer_(std::move(answer)), seen_(seen) {}
  void Append(AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) override {
    seen_->push_back(record.request_id);
    std::move(done)(answer_);
  }

 private:
  absl::Status answer_;
  std::vector<std::string>* seen_;
};

absl::Status AppendThrough(TeeSink& tee, const std::string& id) {
  absl::Status result = absl::UnknownError("done not called");
  AuditRecord record;
  record.request_id = id;
  tee.Append(std::move(record), [&](absl::Status status) { result = status; });
  return result;
}

TEST(TeeSinkTest, BothSeeTheRecordAndThePrimaryDecides) {
  std::vector<std::string> primary_seen, secondary_seen;
  TeeSink tee(
      std::make_unique<RecordingSink>(absl::OkStatus(), &primary_seen),
      std::make_unique<RecordingSink>(absl::UnavailableError("disk full"), &secondary_seen));
  EXPECT_THAT(AppendThrough(tee, "r1"), ndx::testing::IsOk());
  EXPECT_EQ(primary_seen, std::vector<std::string>{"r1"});
  EXPECT_EQ(secondary_seen, std::vector<std::string>{"r1"});
}

TEST(TeeSinkTest, PrimaryFailureIsTheAnswer) {
  std::vector<std::string> primary_seen, secondary_seen;
  TeeSink tee(std::make_unique<RecordingSink>(absl::UnavailableError("log broken"), &primary_seen),
              std::make_unique<RecordingSink>(absl::OkStatus(), &secondary_seen));
  EXPECT_THAT(AppendThrough(tee, "r2"), ndx::testing::StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(secondary_seen, std::vector<std::string>{"r2"});
}

}  // namespace
}  // namespace ndx::audit
