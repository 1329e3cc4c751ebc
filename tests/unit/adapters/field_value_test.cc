#include "adapters/field_value.h"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "adapters/backend.h"
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

// Keeps the elements that SqlArray values view for as long as a test runs.
class Arrays {
 public:
  SqlArray Of(std::vector<SqlValue> elements) {
    storage_.push_back(std::move(elements));
    return SqlArray{storage_.back()};
  }

 private:
  // A deque: adding a vector moves none of those that arrays already view.
  std::deque<std::vector<SqlValue>> storage_;
};

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

  SqlArray A(std::vector<SqlValue> elements) { return arrays_.Of(std::move(elements)); }

  std::shared_ptr<const Schema> schema_;
  const google::protobuf::Descriptor* message_ = nullptr;
  Arrays arrays_;
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

TEST_F(FieldValueTest, RepeatedFieldsTakeArraysAndSingularOnesScalars) {
  EXPECT_EQ(SetFrom("r", A({int64_t{3}, SqlText{"-1"}, 0.0, int64_t{3}})), "r: 3 r: -1 r: 0 r: 3");
  EXPECT_EQ(SetFrom("r", A({})), "");
  EXPECT_EQ(SetFrom("r", int64_t{5}),
            "field \"r\" is repeated (int32 elements), but the column holds an integer, not an "
            "array");
  EXPECT_EQ(SetFrom("i32", A({int64_t{5}})),
            "field \"i32\" expects int32, but the column holds an array that does not convert to "
            "it");
  // Each element follows the rules of one value; an error says which element, not what it holds.
  EXPECT_EQ(SetFrom("r", A({int64_t{1}, SqlText{"two"}})),
            "field \"r\" expects int32, but the column holds a text value that does not convert "
            "to it (element 2 of the array)");
  EXPECT_EQ(SetFrom("r", A({A({int64_t{1}})})),
            "field \"r\" expects int32, but the column holds an array that does not convert to it "
            "(element 1 of the array)");
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
      {"r", SqlText{"079099999999"}, "079099999999"},
      {"r", A({int64_t{7}, SqlText{"Nguyen Van An"}}), "Nguyen"},
      {"r", A({int64_t{79099999999}}), "79099999999"},
      {"i32", A({SqlText{"079099999999"}}), "079099999999"},
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
  // Long ASCII runs are skipped in blocks: what follows or ends them is still checked.
  const std::string ascii(70, 'a');
  EXPECT_TRUE(IsValidUtf8(ascii));
  EXPECT_TRUE(IsValidUtf8(ascii + "\xe1\xbb\x85" + ascii));
  for (size_t at : {0, 31, 32, 33, 63, 69}) {
    std::string text = ascii;
    text[at] = '\xff';
    EXPECT_FALSE(IsValidUtf8(text)) << at;
    text[at] = '\xe1';  // a lead byte cut short by the ASCII that follows
    EXPECT_FALSE(IsValidUtf8(text)) << at;
  }
}

// The record a RecordWriter writes from column values, against the message SetFieldFromSql fills
// from the same values, serialized: the same bytes, or the same error.
class RecordWriterTest : public ::testing::Test {
 protected:
  using Column = std::pair<std::string, SqlValue>;

  void Load(const std::string& proto, const std::string& message) {
    auto set = CompileProtoFile("w.proto", proto);
    ASSERT_THAT(set, IsOk());
    auto schema = Schema::Load(*set);
    ASSERT_THAT(schema, IsOk());
    schema_ = *schema;
    auto found = schema_->FindMessage(message);
    ASSERT_THAT(found, IsOk());
    message_ = *found;
  }

  // Hex of the written record, or the first error's message.
  std::string Written(const std::vector<Column>& columns) const {
    RecordWriter writer;
    for (const auto& [name, value] : columns) {
      absl::Status status = writer.Add(*message_->FindFieldByName(name), value);
      if (!status.ok()) return std::string(status.message());
    }
    return absl::BytesToHexString(std::move(writer).Finish());
  }
  std::string Serialized(const std::vector<Column>& columns) const {
    auto message = schema_->NewMessage(message_);
    for (const auto& [name, value] : columns) {
      absl::Status status = SetFieldFromSql(*message_->FindFieldByName(name), value, message.get());
      if (!status.ok()) return std::string(status.message());
    }
    std::string bytes;
    EXPECT_TRUE(message->SerializePartialToString(&bytes));
    return absl::BytesToHexString(bytes);
  }

  // Each column alone, then all of them in one record; every value converts (hex, no message).
  void ExpectSameBytes(const std::vector<Column>& columns) const {
    for (const Column& column : columns) {
      EXPECT_EQ(Written({column}), Serialized({column})) << column.first;
    }
    const std::string written = Written(columns);
    EXPECT_EQ(written, Serialized(columns));
    EXPECT_THAT(written, Not(HasSubstr(" ")));
  }

  SqlArray A(std::vector<SqlValue> elements) { return arrays_.Of(std::move(elements)); }

  std::shared_ptr<const Schema> schema_;
  const google::protobuf::Descriptor* message_ = nullptr;
  Arrays arrays_;
};

constexpr char kWireProto3[] = R"(syntax = "proto3";
package w.v1;
import "google/protobuf/timestamp.proto";
enum Color { COLOR_UNSPECIFIED = 0; RED = 1; }
message M {
  int32 i32 = 1;
  int64 i64 = 2;
  uint32 u32 = 3;
  uint64 u64 = 4;
  sint32 s32 = 5;
  sint64 s64 = 6;
  fixed32 f32 = 7;
  fixed64 f64 = 8;
  sfixed32 sf32 = 9;
  sfixed64 sf64 = 10;
  float fl = 11;
  double db = 12;
  bool b = 13;
  string s = 14;
  bytes by = 15;
  Color c = 16;
  google.protobuf.Timestamp t = 17;
  optional int32 opt = 18;
  optional string opt_s = 19;
}
)";

TEST_F(RecordWriterTest, WritesWhatSerializationWritesForEveryType) {
  Load(kWireProto3, "w.v1.M");
  ExpectSameBytes({{"i32", int64_t{-1}},
                   {"i64", int64_t{-5000000000}},
                   {"u32", int64_t{4294967295}},
                   {"u64", SqlText{"18446744073709551615"}},
                   {"s32", int64_t{-3}},
                   {"s64", int64_t{-9}},
                   {"f32", int64_t{7}},
                   {"f64", int64_t{8}},
                   {"sf32", int64_t{-10}},
                   {"sf64", int64_t{-11}},
                   {"fl", 0.1},
                   {"db", -2.5},
                   {"b", SqlText{"true"}},
                   {"s", SqlText{"Nguy\xe1\xbb\x85n"}},
                   {"by", SqlBlob{absl::string_view("\x00\xff", 2)}},
                   {"c", SqlText{"RED"}},
                   {"t", -0.5},
                   {"opt", int64_t{4}},
                   {"opt_s", SqlText{"x"}}});
  // Text of a number, numbers of text, and an enum number no name stands for (proto3 keeps it).
  ExpectSameBytes({{"s", int64_t{42}}, {"i64", SqlText{"77"}}, {"c", int64_t{9}}, {"db", 3.0}});
}

TEST_F(RecordWriterTest, LeavesOutDefaultsOfFieldsWithoutPresenceOnly) {
  Load(kWireProto3, "w.v1.M");
  ExpectSameBytes({{"i32", int64_t{0}},
                   {"u64", int64_t{0}},
                   {"fl", 0.0},
                   {"db", 0.0},
                   {"b", int64_t{0}},
                   {"s", SqlText{""}},
                   {"by", SqlBlob{""}},
                   {"c", SqlText{"COLOR_UNSPECIFIED"}},
                   {"opt", int64_t{0}},
                   {"opt_s", SqlText{""}},
                   {"t", int64_t{0}}});
  // Floating-point values are compared by their bits: -0.0 is written, and so is NaN.
  ExpectSameBytes({{"db", -0.0}, {"fl", -0.0}});
  ExpectSameBytes({{"db", std::nan("")}, {"fl", std::numeric_limits<double>::infinity()}});
  EXPECT_EQ(Written({{"i32", int64_t{0}}, {"s", SqlText{""}}}), "");
}

TEST_F(RecordWriterTest, ErrorsAreSetFieldFromSqlErrors) {
  Load(kWireProto3, "w.v1.M");
  for (const Column& column : std::vector<Column>{{"i32", int64_t{1} << 40},
                                                  {"u32", int64_t{-1}},
                                                  {"i64", 1.5},
                                                  {"b", int64_t{2}},
                                                  {"s", SqlBlob{"\xff\xfe"}},
                                                  {"by", int64_t{3}},
                                                  {"c", SqlText{"BLUE"}},
                                                  {"t", SqlText{"soon"}}}) {
    const std::string written = Written({column});
    EXPECT_EQ(written, Serialized({column})) << column.first;
    EXPECT_THAT(written, HasSubstr(absl::StrCat("field \"", column.first, "\""))) << column.first;
  }
}

// proto2: every field has presence, so defaults are written; a closed enum keeps a number it does
// not name among the unknown fields, after the known ones; fields declared out of number order
// are still written by number.
TEST_F(RecordWriterTest, Proto2PresenceClosedEnumsAndDeclarationOrder) {
  Load(R"(syntax = "proto2";
package w.v2;
enum Kind { A = 1; B = 2; }
message M {
  optional string late = 9;
  optional Kind kind = 3;
  optional int32 zero = 1 [default = 5];
  required bool flag = 2;
  optional Kind other = 4;
}
)",
       "w.v2.M");
  ExpectSameBytes({{"late", SqlText{"z"}},
                   {"kind", int64_t{7}},
                   {"zero", int64_t{0}},
                   {"flag", int64_t{0}},
                   {"other", SqlText{"B"}}});
  ExpectSameBytes({{"other", int64_t{-3}}, {"kind", int64_t{8}}, {"late", SqlText{""}}});
}

// Declared out of number order, every type a repeated field can have, packed (proto3's default
// for numbers) or not.
constexpr char kRepeatedProto3[] = R"(syntax = "proto3";
package w.v4;
import "google/protobuf/timestamp.proto";
enum Color { COLOR_UNSPECIFIED = 0; RED = 1; }
message M {
  string id = 20;
  repeated int32 i32 = 1;
  repeated int64 i64 = 2;
  repeated sint32 s32 = 3;
  repeated double db = 4;
  repeated bool b = 5;
  repeated Color c = 6;
  repeated string s = 7;
  repeated bytes by = 8;
  repeated google.protobuf.Timestamp t = 9;
  repeated fixed32 f32 = 10;
  repeated float fl = 11;
  repeated uint64 u64 = 12;
  repeated sfixed64 sf64 = 13;
  repeated int32 unpacked = 14 [packed = false];
  repeated sint64 s64 = 15;
}
)";

TEST_F(RecordWriterTest, WritesRepeatedFieldsAsSerializationDoes) {
  Load(kRepeatedProto3, "w.v4.M");
  // Elements equal to their type's default are written: a list keeps every element.
  ExpectSameBytes({{"id", SqlText{"r1"}},
                   {"i32", A({int64_t{1}, int64_t{-1}, int64_t{0}, SqlText{"300"}})},
                   {"i64", A({int64_t{-5000000000}, int64_t{0}})},
                   {"s32", A({int64_t{-3}, int64_t{3}, int64_t{0}})},
                   {"db", A({-2.5, 0.0, -0.0, std::nan("")})},
                   {"b", A({SqlText{"true"}, int64_t{0}, SqlText{"false"}})},
                   {"c", A({SqlText{"RED"}, int64_t{0}, int64_t{9}, int64_t{-4}})},
                   {"s", A({SqlText{"Nguy\xe1\xbb\x85n"}, SqlText{""}, int64_t{42}})},
                   {"by", A({SqlBlob{absl::string_view("\x00\xff", 2)}, SqlBlob{""}})},
                   {"t", A({-0.5, int64_t{0}, SqlText{"2024-01-02T03:04:05.25Z"}})},
                   {"f32", A({int64_t{7}, int64_t{0}})},
                   {"fl", A({0.1, 0.0})},
                   {"u64", A({SqlText{"18446744073709551615"}, int64_t{0}})},
                   {"sf64", A({int64_t{-11}})},
                   {"unpacked", A({int64_t{1}, int64_t{0}, int64_t{-2}})},
                   {"s64", A({int64_t{-9}, int64_t{0}})}});
  // The encodings themselves, independently of protobuf: packed numbers are one length-delimited
  // entry (a negative int32 is ten bytes); strings, Timestamps and unpacked numbers one entry per
  // element, an empty string or a zero Timestamp included.
  EXPECT_EQ(Written({{"i32", A({int64_t{1}, int64_t{0}, int64_t{-1}})}}),
            "0a0c0100ffffffffffffffffff01");
  EXPECT_EQ(Written({{"unpacked", A({int64_t{1}, int64_t{0}})}}), "70017000");
  EXPECT_EQ(Written({{"s", A({SqlText{"a"}, SqlText{""}})}}), "3a01613a00");
  EXPECT_EQ(Written({{"t", A({int64_t{0}, int64_t{1}})}}), "4a004a020801");
  // An empty array is an empty field: nothing is written.
  EXPECT_EQ(Written({{"i32", A({})}, {"s", A({})}, {"t", A({})}, {"unpacked", A({})}}), "");
  ExpectSameBytes({{"i32", A({})}, {"s", A({})}, {"t", A({})}, {"unpacked", A({})}});
}

// proto2: numbers are not packed unless the field says so, and a closed enum keeps the numbers
// it does not name among the unknown fields, one unpacked entry each, after the known fields.
TEST_F(RecordWriterTest, Proto2RepeatedFieldsAndClosedEnums) {
  Load(R"(syntax = "proto2";
package w.v5;
enum Kind { A = 1; B = 2; }
message M {
  repeated Kind kinds = 3;
  repeated int32 n = 1;
  repeated Kind packed_kinds = 4 [packed = true];
  optional string name = 2;
  repeated string tags = 5;
}
)",
       "w.v5.M");
  ExpectSameBytes({{"kinds", A({SqlText{"B"}, int64_t{7}, int64_t{1}, int64_t{-3}})},
                   {"n", A({int64_t{0}, int64_t{5}, int64_t{-1}})},
                   {"packed_kinds", A({int64_t{8}, SqlText{"A"}, int64_t{2}})},
                   {"name", SqlText{"x"}},
                   {"tags", A({SqlText{""}, SqlText{"t"}})}});
  EXPECT_EQ(Written({{"n", A({int64_t{0}, int64_t{5}})}}), "08000805");
  // Only unnamed numbers: the packed field has no known element, and so no entry of its own.
  EXPECT_EQ(Written({{"packed_kinds", A({int64_t{8}})}}), "2008");
  EXPECT_EQ(Serialized({{"packed_kinds", A({int64_t{8}})}}), "2008");
  // What the writer matches: reflection (protobuf 3.21's AddEnumValue) keeps the named values
  // in the field and the others among the unknown fields.
  auto message = schema_->NewMessage(message_);
  const google::protobuf::FieldDescriptor& kinds = *message_->FindFieldByName("kinds");
  ASSERT_THAT(
      SetFieldFromSql(kinds, A({SqlText{"B"}, int64_t{7}, int64_t{1}, int64_t{-3}}), message.get()),
      IsOk());
  EXPECT_EQ(message->GetReflection()->FieldSize(*message, &kinds), 2);
  EXPECT_EQ(message->GetReflection()->GetUnknownFields(*message).field_count(), 2);
}

TEST_F(RecordWriterTest, ArrayErrorsAreSetFieldFromSqlErrorsAndLeaveTheRecordAsItWas) {
  Load(kRepeatedProto3, "w.v4.M");
  for (const Column& column : std::vector<Column>{{"i32", int64_t{1}},
                                                  {"s", SqlText{"x"}},
                                                  {"i32", A({int64_t{1}, SqlText{"x"}})},
                                                  {"unpacked", A({int64_t{1}, int64_t{1} << 40})},
                                                  {"s", A({SqlText{"a"}, SqlBlob{"\xff\xfe"}})},
                                                  {"t", A({A({})})},
                                                  {"id", A({SqlText{"x"}})}}) {
    const std::string written = Written({column});
    EXPECT_EQ(written, Serialized({column})) << column.first;
    EXPECT_THAT(written, HasSubstr(absl::StrCat("field \"", column.first, "\""))) << column.first;
  }
  EXPECT_EQ(Written({{"unpacked", A({int64_t{1}, int64_t{1} << 40})}}),
            "field \"unpacked\" expects int32, but the column holds an integer that does not "
            "convert to it (element 2 of the array)");

  // Elements written before the one at fault are taken back.
  RecordWriter writer;
  ASSERT_THAT(writer.Add(*message_->FindFieldByName("id"), SqlText{"r1"}), IsOk());
  EXPECT_THAT(
      writer.Add(*message_->FindFieldByName("unpacked"), A({int64_t{1}, int64_t{2}, SqlText{"x"}})),
      StatusIs(absl::StatusCode::kInternal));
  EXPECT_THAT(
      writer.Add(*message_->FindFieldByName("i32"), A({int64_t{4}, SqlText{"y"}, int64_t{5}})),
      StatusIs(absl::StatusCode::kInternal));
  ASSERT_THAT(writer.Add(*message_->FindFieldByName("s"), A({SqlText{"a"}})), IsOk());
  EXPECT_EQ(absl::BytesToHexString(std::move(writer).Finish()),
            Written({{"id", SqlText{"r1"}}, {"s", A({SqlText{"a"}})}}));
}

TEST_F(RecordWriterTest, AnUnnamedClosedEnumValueIsTakenBackWithItsArray) {
  Load(R"(syntax = "proto2";
package w.v6;
enum Kind { A = 1; }
message M {
  optional string name = 1;
  repeated Kind kinds = 2;
}
)",
       "w.v6.M");
  RecordWriter writer;
  ASSERT_THAT(writer.Add(*message_->FindFieldByName("name"), SqlText{"x"}), IsOk());
  EXPECT_THAT(writer.Add(*message_->FindFieldByName("kinds"), A({int64_t{7}, SqlText{"Z"}})),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("element 2 of the array")));
  EXPECT_EQ(absl::BytesToHexString(std::move(writer).Finish()), Written({{"name", SqlText{"x"}}}));
}

// A oneof keeps only the member set last: BuildRecord writes what the message would hold.
TEST_F(RecordWriterTest, BuildRecordKeepsTheLastOneofMember) {
  Load(R"(syntax = "proto3";
package w.v3;
message M {
  string id = 1;
  oneof contact {
    string phone = 2;
    string email = 3;
  }
}
)",
       "w.v3.M");
  Binding binding;
  binding.dataset = "w/m";
  binding.schema = schema_;
  binding.message = message_;
  binding.table = "m";
  for (int i = 0; i < message_->field_count(); ++i) {
    binding.fields.push_back({message_->field(i), message_->field(i)->name()});
  }
  std::vector<const FieldBinding*> selected;
  for (const FieldBinding& field : binding.fields) selected.push_back(&field);
  const std::vector<SqlValue> values = {SqlText{"1"}, SqlText{"0900"}, SqlText{"a@b.vn"}};
  absl::StatusOr<std::string> record =
      BuildRecord(binding, selected,
                  [&](size_t i) -> absl::StatusOr<std::optional<SqlValue>> { return values[i]; });
  ASSERT_THAT(record, IsOk());
  auto message = schema_->NewMessage(message_);
  ASSERT_TRUE(message->ParseFromString(*record));
  EXPECT_EQ(message->ShortDebugString(), "id: \"1\" email: \"a@b.vn\"");
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
