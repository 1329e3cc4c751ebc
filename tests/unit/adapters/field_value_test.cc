#include "adapters/field_value.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "adapters/page_token.h"
#include "common/schema.h"
#include "testing/status_matchers.h"

namespace ndx::adapters {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kProto[] = R"(syntax = "proto3";
package t.v1;
import "google/protobuf/timestamp.proto";
enum Color { COLOR_UNSPECIFIED = 0; RED = 1; }
message Sub { int32 x = 1; }
message All {
  int32 i32 = 1;
  uint32 u32 = 2;
  int64 i64 = 3;
  uint64 u64 = 4;
  float f = 5;
  double d = 6;
  bool b = 7;
  string s = 8;
  bytes by = 9;
  Color c = 10;
  google.protobuf.Timestamp t = 11;
  repeated int32 r = 12;
  Sub sub = 13;
  map<string, string> m = 14;
  sint32 si = 15;
}
)";

class FieldValueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto set = CompileProtoFile("all.proto", kProto);
    ASSERT_THAT(set, IsOk());
    auto schema = Schema::Load(*set);
    ASSERT_THAT(schema, IsOk());
    schema_ = *schema;
    message_ = *schema_->FindMessage("t.v1.All");
  }
  const google::protobuf::FieldDescriptor& Field(const std::string& name) const {
    return *message_->FindFieldByName(name);
  }
  // The message text after setting `field` from `value`, or the error.
  std::string SetFrom(const std::string& field, const SqlValue& value) {
    auto message = schema_->NewMessage(message_);
    absl::Status status = SetFieldFromSql(Field(field), value, message.get());
    return status.ok() ? message->ShortDebugString() : std::string(status.message());
  }

  std::shared_ptr<const Schema> schema_;
  const google::protobuf::Descriptor* message_ = nullptr;
};

TEST_F(FieldValueTest, SetsFieldsFromColumnValues) {
  EXPECT_EQ(SetFrom("i32", int64_t{5}), "i32: 5");
  EXPECT_EQ(SetFrom("i32", SqlText{"6"}), "i32: 6");
  EXPECT_EQ(SetFrom("i32", 7.0), "i32: 7");
  EXPECT_EQ(SetFrom("u64", SqlText{"18446744073709551615"}), "u64: 18446744073709551615");
  EXPECT_EQ(SetFrom("d", int64_t{2}), "d: 2");
  EXPECT_EQ(SetFrom("b", SqlText{"true"}), "b: true");
  EXPECT_EQ(SetFrom("s", 0.5), "s: \"0.5\"");
  EXPECT_EQ(SetFrom("s", int64_t{42}), "s: \"42\"");
  EXPECT_EQ(SetFrom("by", SqlBlob{"\x01"}), "by: \"\\001\"");
  EXPECT_EQ(SetFrom("c", SqlText{"RED"}), "c: RED");
  EXPECT_EQ(SetFrom("c", int64_t{1}), "c: RED");
  EXPECT_EQ(SetFrom("t", 1.25), "t { seconds: 1 nanos: 250000000 }");
  EXPECT_EQ(SetFrom("t", -0.5), "t { seconds: -1 nanos: 500000000 }");
  EXPECT_EQ(SetFrom("t", SqlText{"1970-01-01 00:01:00.5"}), "t { seconds: 60 nanos: 500000000 }");
  EXPECT_EQ(SetFrom("t", SqlText{"1970-01-01T02:00:00+02:00"}), "t { }");
}

TEST_F(FieldValueTest, ColumnValueThatDoesNotFitIsInternal) {
  auto message = schema_->NewMessage(message_);
  EXPECT_THAT(SetFieldFromSql(Field("i32"), int64_t{1} << 40, message.get()),
              StatusIs(absl::StatusCode::kInternal,
                       "field \"i32\" expects int32, but the column holds an integer that does "
                       "not convert to it"));
  EXPECT_THAT(SetFieldFromSql(Field("u32"), int64_t{-1}, message.get()),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(SetFieldFromSql(Field("i64"), 1.5, message.get()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("holds a real number")));
  EXPECT_THAT(SetFieldFromSql(Field("b"), int64_t{2}, message.get()),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(SetFieldFromSql(Field("s"), SqlBlob{"\xff\xfe"}, message.get()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("holds a blob that is not UTF-8")));
  EXPECT_THAT(SetFieldFromSql(Field("by"), int64_t{3}, message.get()),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(SetFieldFromSql(Field("t"), SqlText{"soon"}, message.get()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("holds a text value")));
  EXPECT_THAT(SetFieldFromSql(Field("t"), int64_t{1} << 60, message.get()),
              StatusIs(absl::StatusCode::kInternal));
}

// A stored value is a citizen's data: the message of one that does not fit names the field, the
// type and the kind of value stored, never the value, whatever its storage class.
TEST_F(FieldValueTest, MessageOfColumnValueThatDoesNotFitLeavesTheValueOut) {
  const struct {
    const char* field;
    SqlValue value;
    const char* spelled;  // how the value would read in a message that quoted it
  } cases[] = {
      {"i32", int64_t{79099999999}, "79099999999"},
      {"u64", int64_t{-79099999999}, "79099999999"},
      {"i64", 79099999999.5, "79099999999"},
      {"i32", SqlText{"Nguyen Van An"}, "Nguyen"},
      {"t", SqlText{"born 1990-04-12 in Ha Noi"}, "Ha Noi"},
      {"by", int64_t{79099999999}, "79099999999"},
      {"b", SqlText{"079099999999"}, "079099999999"},
      {"c", SqlBlob{"079099999999"}, "079099999999"},
      {"s", SqlBlob{"Nguy\xe1\xbb\x85n \xff 079099999999"}, "079099999999"},
  };
  for (const auto& c : cases) {
    auto message = schema_->NewMessage(message_);
    EXPECT_THAT(SetFieldFromSql(Field(c.field), c.value, message.get()),
                StatusIs(absl::StatusCode::kInternal,
                         AllOf(HasSubstr(absl::StrCat("field \"", c.field, "\"")),
                               Not(HasSubstr(c.spelled)))))
        << c.field << " " << c.spelled;
  }
}

TEST_F(FieldValueTest, Utf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("Nguy\xe1\xbb\x85n"));
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xe1\xbb"));          // cut short
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
}

TEST_F(FieldValueTest, PageTokenRoundTripsAndBindsItsQuery) {
  Binding binding;
  binding.dataset = "pop/people";
  Binding other = binding;
  other.dataset = "pop/others";
  const std::vector<FieldFilter> filters = {{"a", "1"}, {"b", "2"}};
  const std::vector<FieldFilter> reordered = {{"b", "2"}, {"a", "1"}};
  std::string token = EncodePageToken(binding, filters, std::string("t\0key", 5));
  EXPECT_EQ(*DecodePageToken(binding, filters, token), std::string("t\0key", 5));
  EXPECT_EQ(*DecodePageToken(binding, reordered, token), std::string("t\0key", 5));
  EXPECT_THAT(DecodePageToken(other, filters, token),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("another dataset")));
  EXPECT_THAT(DecodePageToken(binding, {{"a", "12"}}, token),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DecodePageToken(binding, filters, ""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DecodePageToken(binding, filters, "AAAA"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too short")));
}

}  // namespace
}  // namespace ndx::adapters
