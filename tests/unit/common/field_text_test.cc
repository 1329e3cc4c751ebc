#include "common/field_text.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/schema.h"
#include "testing/status_matchers.h"

namespace ndx {
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
  repeated google.protobuf.Timestamp rt = 16;
  repeated Sub subs = 17;
  repeated string rs = 18;
}
)";

class FieldTextTest : public ::testing::Test {
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

  std::shared_ptr<const Schema> schema_;
  const google::protobuf::Descriptor* message_ = nullptr;
};

TEST_F(FieldTextTest, ParsesTextOfEachType) {
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

TEST_F(FieldTextTest, TextThatDoesNotConvertNamesFieldAndType) {
  EXPECT_THAT(ParseFieldText(Field("i32"), "2147483648"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "field \"i32\" expects int32 (the value given does not convert)"));
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
  EXPECT_THAT(ParseFieldText(Field("t"), "99999999999999"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// A key or filter value is a citizen's identifier or data: the message of a value that does not
// convert names the field and the type, and must not carry the value, for any type.
TEST_F(FieldTextTest, MessageOfTextThatDoesNotConvertLeavesTheValueOut) {
  const struct {
    const char* field;
    const char* value;
  } cases[] = {
      {"i32", "079099999999"},
      {"u32", "-001099999999"},
      {"i64", "001099999999x"},
      {"u64", "-001099999999"},
      {"f", "citizen 001099999999"},
      {"d", "001099999999,5"},
      {"b", "001099999999"},
      {"by", "001099999999!"},
      {"c", "NGUYEN_VAN_AN"},
      {"t", "1990-04-12 Nguyen Van An"},
      {"si", "Nguyen Van An 001099999"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<FieldValue> value = ParseFieldText(Field(c.field), c.value);
    EXPECT_THAT(value, StatusIs(absl::StatusCode::kInvalidArgument,
                                AllOf(HasSubstr(absl::StrCat("field \"", c.field, "\" expects ")),
                                      Not(HasSubstr(c.value)))))
        << c.field;
  }
}

TEST_F(FieldTextTest, SupportedAndKeyFields) {
  EXPECT_THAT(CheckSupportedField(Field("t")), IsOk());
  // A repeated field reads from an array (a backend without arrays refuses it itself).
  EXPECT_THAT(CheckSupportedField(Field("r")), IsOk());
  EXPECT_THAT(CheckSupportedField(Field("rt")), IsOk());
  EXPECT_THAT(CheckSupportedField(Field("m")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field \"m\" is a map")));
  EXPECT_THAT(CheckSupportedField(Field("subs")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("message type t.v1.Sub")));
  EXPECT_THAT(CheckSupportedField(Field("sub")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("message type t.v1.Sub")));
  for (const char* key : {"i32", "u32", "i64", "u64", "s", "by", "si"}) {
    EXPECT_THAT(CheckKeyField(Field(key)), IsOk()) << key;
  }
  for (const char* not_key : {"f", "d", "b", "c", "t", "r", "rs"}) {
    EXPECT_THAT(CheckKeyField(Field(not_key)), StatusIs(absl::StatusCode::kInvalidArgument))
        << not_key;
  }
}

TEST_F(FieldTextTest, AFilterComparesASingleValueSoRepeatedFieldsCannotBeFiltered) {
  for (const char* single : {"i32", "s", "t", "c"}) {
    EXPECT_THAT(CheckFilterField(Field(single)), IsOk()) << single;
  }
  for (const char* repeated : {"r", "rt", "rs"}) {
    EXPECT_THAT(CheckFilterField(Field(repeated)),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         absl::StrCat("field \"", repeated,
                                      "\" is repeated; a filter compares a single value, so "
                                      "repeated fields cannot be filtered")));
  }
}

TEST_F(FieldTextTest, ExpectedTypeSpellsWhatTheTextMustBe) {
  EXPECT_EQ(ExpectedType(Field("i32")), "int32");
  EXPECT_EQ(ExpectedType(Field("si")), "sint32");
  EXPECT_EQ(ExpectedType(Field("b")), "bool (true, false, 1 or 0)");
  EXPECT_EQ(ExpectedType(Field("by")), "bytes (base64)");
  EXPECT_EQ(ExpectedType(Field("c")), "enum t.v1.Color (a value name or number)");
  EXPECT_EQ(ExpectedType(Field("t")),
            "google.protobuf.Timestamp (RFC 3339 or integer seconds since the epoch)");
}

TEST(FieldTextBlocksTest, BoolAndTimestampText) {
  bool b = false;
  EXPECT_TRUE(ParseBoolText("1", &b));
  EXPECT_TRUE(b);
  EXPECT_TRUE(ParseBoolText("false", &b));
  EXPECT_FALSE(b);
  EXPECT_FALSE(ParseBoolText("True", &b));
  absl::Time time;
  EXPECT_TRUE(ParseRfc3339Text("2024-01-02T10:00:00+07:00", &time));
  EXPECT_EQ(time, absl::FromUnixSeconds(1704164400));
  EXPECT_FALSE(ParseRfc3339Text("2024-01-02 03:00:00", &time));
  EXPECT_FALSE(ParseRfc3339Text("10000-01-01T00:00:00Z", &time));
  EXPECT_TRUE(InTimestampRange(absl::FromUnixSeconds(kMaxTimestampSeconds)));
  EXPECT_FALSE(InTimestampRange(absl::FromUnixSeconds(kMaxTimestampSeconds + 1)));
  EXPECT_FALSE(InTimestampRange(absl::FromUnixSeconds(kMinTimestampSeconds - 1)));
}

}  // namespace
}  // namespace ndx
