#include "test_data.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "google/protobuf/text_format.h"

namespace ndx::adapters::testing {
namespace {

constexpr char kProto[] = R"(syntax = "proto3";
package pop.v1;
import "google/protobuf/timestamp.proto";

enum Sex {
  SEX_UNSPECIFIED = 0;
  MALE = 1;
  FEMALE = 2;
}

message Person {
  string citizen_id = 1;
  string full_name = 2;
  int32 birth_year = 3;
  Sex sex = 4;
  bool alive = 5;
  double height_m = 6;
  google.protobuf.Timestamp registered_at = 7;
  bytes photo = 8;
  string province = 9;
  uint64 household = 10;
}

message Household {
  int64 household_id = 1;
  string address = 2;
}
)";

constexpr char kConfig[] = R"(
listen_address: "127.0.0.1:0"
tls { ca_file: "tls/ca.pem" cert_file: "tls/tls.pem" key_file: "tls/tls.key" }
trust_domain: "ndx.test"
allowed_gateways: "core"
datasets {
  dataset: "pop/people"
  proto_file: "person.proto"
  message_type: "pop.v1.Person"
  key_field: "citizen_id"
  sqlite { path: "pop.db" }
  table: "people"
  columns { key: "province" value: "province_code" }
}
datasets {
  dataset: "pop/households"
  proto_file: "person.proto"
  message_type: "pop.v1.Household"
  key_field: "household_id"
  sqlite { path: "pop.db" }
  table: "households"
}
)";

constexpr char kSchema[] = R"(
CREATE TABLE people (
  citizen_id TEXT PRIMARY KEY,
  full_name TEXT,
  birth_year INTEGER,
  sex,
  alive INTEGER,
  height_m REAL,
  registered_at,
  photo BLOB,
  province_code TEXT,
  household INTEGER
);
CREATE TABLE households (household_id INTEGER PRIMARY KEY, address TEXT);
INSERT INTO people VALUES
  ('001', 'Nguyen Van A', 1980, 'MALE', 1, 1.72, '2020-01-02T03:04:05Z', x'0102', 'HN', 7),
  ('002', 'Tran Thi B', 1985, 2, 0, NULL, 1600000000, NULL, 'HN', 7),
  ('003', 'Le Van C', 1990, NULL, NULL, NULL, '2021-06-01 10:00:00', NULL, 'HCM', 8),
  ('999', 'Broken Row', 'nineteen', NULL, NULL, NULL, NULL, NULL, 'XX', NULL);
INSERT INTO households VALUES (7, '1 Trang Tien, Ha Noi'), (8, '2 Le Loi, Ho Chi Minh City');
)";

}  // namespace

PopulationData::PopulationData() {
  EXPECT_TRUE(WriteFileAtomically(dir_.Join("person.proto"), kProto, 0644).ok());
  EXPECT_TRUE(WriteFileAtomically(config_path(), kConfig, 0644).ok());
  // One transaction: a commit per row would fsync 25 times per test.
  std::string sql = absl::StrCat("BEGIN;", kSchema);
  for (int i = 0; i < kPagingRows; ++i) {
    absl::StrAppend(&sql,
                    "INSERT INTO people (citizen_id, full_name, birth_year, province_code) "
                    "VALUES ('",
                    100 + i, "', 'Person ", i, "', ", 2000 + i % 3, ", 'DN');");
  }
  Exec(absl::StrCat(sql, "COMMIT;"));
}

v1::AdapterConfig PopulationData::Config() const {
  v1::AdapterConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(kConfig, &config));
  return config;
}

void PopulationData::Exec(const std::string& sql) const {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "") << " in " << sql;
  sqlite3_free(error);
  sqlite3_close(db);
}

int64_t PopulationData::QueryInt(const std::string& sql) const {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  int64_t value = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    value = sqlite3_column_int64(stmt, 0);
  } else {
    ADD_FAILURE() << sqlite3_errmsg(db) << " in " << sql;
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

std::unique_ptr<google::protobuf::Message> ParseRecord(const ServedDataset& dataset,
                                                       const std::string& record) {
  std::unique_ptr<google::protobuf::Message> message =
      dataset.binding->schema->NewMessage(dataset.binding->message);
  EXPECT_TRUE(message->ParseFromString(record));
  return message;
}

std::string StringField(const google::protobuf::Message& message, const std::string& name) {
  const google::protobuf::FieldDescriptor* field = message.GetDescriptor()->FindFieldByName(name);
  EXPECT_NE(field, nullptr) << name;
  return field == nullptr ? "" : message.GetReflection()->GetString(message, field);
}

}  // namespace ndx::adapters::testing
