#include "adapters/field_value.h"

#include <gtest/gtest.h>

#include "adapters/page_token.h"
#include "common/schema.h"
#include "testing/status_matchers.h"

namespace ndx::adapters {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

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

TEST_F(FieldValueTest, ParsesTextOfEachType) {
  EXPECT_EQ(std::get<int64_t>(*ParseFieldText(Field("i32"), "-12")), -12);
  EXPECT_EQ(std::get<int64_t>(*ParseFieldText(Field("si"), "7")), 7);
  EXPECT_EQ(std::get<uint64_t>(*ParseFieldText(Field("u64"), "18446744073709551615")),
            18446744073709551615ULL);
  EXPECT_EQ(std::get<double>(*ParseFieldText(Field("d"), "1.5e3")), 1500.0);
  EXPECT_EQ(std::get<bool>(*ParseFieldText(Field("b"), "true")), true);
  EXPECT_EQ(std::get<bool>(*ParseFieldText(Field("b"), "0")), false);
  EXPECT_EQ(std::get<std::string>(*ParseFieldText(Field("s"), "a'b")), "a'b");
  EXPECT_EQ(std::get<BytesValue>(*ParseFieldText(Field("by"), "_-8")).bytes, "\xff\xef");
  EXPECT_EQ(std::get<EnumValue>(*ParseFieldText(Field("c"), "RED")).number, 1);
  EXPECT_EQ(std::get<EnumValue>(*ParseFieldText(Field("c"), "1")).name, "RED");
  EXPECT_EQ(std::get<EnumValue>(*ParseFieldText(Field("c"), "9")).name, "");
  EXPECT_EQ(std::get<absl::Time>(*ParseFieldText(Field("t"), "1970-01-01T01:00:00+01:00")),
            absl::UnixEpoch());
  EXPECT_EQ(std::get<absl::Time>(*ParseFieldText(Field("t"), "60")), absl::FromUnixSeconds(60));
}

TEST_F(FieldValueTest, TextThatDoesNotConvertNamesFieldAndType) {
  EXPECT_THAT(ParseFieldText(Field("i32"), "2147483648"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("field \"i32\" expects int32, got \"2147483648\"")));
  EXPECT_THAT(ParseFieldText(Field("u32"), "-1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expects uint32")));
  EXPECT_THAT(ParseFieldText(Field("f"), "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expects float")));
  EXPECT_THAT(ParseFieldText(Field("b"), "TRUE"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("true, false, 1 or 0")));
  EXPECT_THAT(ParseFieldText(Field("c"), "BLUE"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("enum t.v1.Color")));
  EXPECT_THAT(ParseFieldText(Field("t"), "2024-13-01T00:00:00Z"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("RFC 3339")));
  EXPECT_THAT(ParseFieldText(Field("t"), "2024-01-01 00:00:00"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Control characters in a value are escaped in the message.
  EXPECT_THAT(ParseFieldText(Field("i64"), "1\n2"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"1\\n2\"")));
}

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
                       HasSubstr("field \"i32\" expects int32, the column holds the integer")));
  EXPECT_THAT(SetFieldFromSql(Field("u32"), int64_t{-1}, message.get()),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(SetFieldFromSql(Field("i64"), 1.5, message.get()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("the real 1.5")));
  EXPECT_THAT(SetFieldFromSql(Field("b"), int64_t{2}, message.get()),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(SetFieldFromSql(Field("s"), SqlBlob{"\xff\xfe"}, message.get()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("not UTF-8")));
  EXPECT_THAT(SetFieldFromSql(Field("by"), int64_t{3}, message.get()),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(SetFieldFromSql(Field("t"), SqlText{"soon"}, message.get()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("the text \"soon\"")));
  EXPECT_THAT(SetFieldFromSql(Field("t"), int64_t{1} << 60, message.get()),
              StatusIs(absl::StatusCode::kInternal));
}

TEST_F(FieldValueTest, SupportedAndKeyFields) {
  EXPECT_THAT(CheckSupportedField(Field("t")), IsOk());
  EXPECT_THAT(CheckSupportedField(Field("r")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is repeated")));
  EXPECT_THAT(CheckSupportedField(Field("m")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is a map")));
  EXPECT_THAT(CheckSupportedField(Field("sub")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("message type t.v1.Sub")));
  for (const char* key : {"i32", "u32", "i64", "u64", "s", "by", "si"}) {
    EXPECT_THAT(CheckKeyField(Field(key)), IsOk()) << key;
  }
  for (const char* not_key : {"f", "d", "b", "c", "t", "r"}) {
    EXPECT_THAT(CheckKeyField(Field(not_key)), StatusIs(absl::StatusCode::kInvalidArgument))
        << not_key;
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
