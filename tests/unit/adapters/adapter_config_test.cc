#include "adapters/adapter_config.h"

#include <gtest/gtest.h>

#include "common/files.h"
#include "test_data.h"
#include "testing/status_matchers.h"

namespace ndx::adapters {
namespace {

using ::ndx::adapters::testing::PopulationData;
using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

class AdapterConfigTest : public ::testing::Test {
 protected:
  absl::StatusOr<LoadedAdapterConfig> Load(const v1::AdapterConfig& config) {
    return LoadAdapterConfig(config, data_.config_path());
  }
  v1::DatasetBinding* People(v1::AdapterConfig* config) { return config->mutable_datasets(0); }

  PopulationData data_;
};

TEST_F(AdapterConfigTest, LoadsTheFileAndResolvesPathsAgainstIt) {
  absl::StatusOr<LoadedAdapterConfig> loaded = LoadAdapterConfigFile(data_.config_path());
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->listen_address, "127.0.0.1:0");
  EXPECT_EQ(loaded->tls.ca_file, data_.dir() + "/tls/ca.pem");
  EXPECT_EQ(loaded->tls.key_file, data_.dir() + "/tls/tls.key");
  EXPECT_EQ(loaded->trust_domain, "ndx.test");
  EXPECT_EQ(loaded->max_message_bytes, kDefaultMaxMessageBytes);
  ASSERT_EQ(loaded->datasets.size(), 2u);
  const ServedDataset& people = loaded->datasets.at("pop/people");
  EXPECT_EQ(people.binding->message->full_name(), "pop.v1.Person");
  EXPECT_EQ(people.binding->key().field->name(), "citizen_id");
  EXPECT_EQ(people.binding->FindField("province")->column, "province_code");
  EXPECT_EQ(people.binding->FindField("full_name")->column, "full_name");
  // Both bindings name pop.db: one backend, one connection pool.
  EXPECT_EQ(people.backend, loaded->datasets.at("pop/households").backend);
}

TEST_F(AdapterConfigTest, TextFormatErrorNamesTheLine) {
  ASSERT_THAT(WriteFileAtomically(data_.config_path(), "listen_address: 12 13\n", 0644), IsOk());
  EXPECT_THAT(LoadAdapterConfigFile(data_.config_path()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1")));
}

TEST_F(AdapterConfigTest, MissingTableIsNamedWithTheTablesThatExist) {
  v1::AdapterConfig config = data_.Config();
  People(&config)->set_table("citizens");
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                     AllOf(HasSubstr("datasets[0]"),
                                           HasSubstr("table \"citizens\" does not exist"),
                                           HasSubstr("households, people"))));
}

TEST_F(AdapterConfigTest, MissingColumnIsNamedWithItsField) {
  v1::AdapterConfig config = data_.Config();
  (*People(&config)->mutable_columns())["full_name"] = "name";
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                     AllOf(HasSubstr("field \"full_name\" -> column \"name\""),
                                           HasSubstr("province_code"))));
}

TEST_F(AdapterConfigTest, FieldWithoutColumnOfItsNameIsRefused) {
  v1::AdapterConfig config = data_.Config();
  People(&config)->mutable_columns()->erase("province");
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("field \"province\" -> column \"province\"")));
}

TEST_F(AdapterConfigTest, BadIdentifiersAreRefused) {
  v1::AdapterConfig config = data_.Config();
  People(&config)->set_table("people; DROP TABLE people");
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("is not a plain SQL identifier")));
  config = data_.Config();
  (*People(&config)->mutable_columns())["full_name"] = "full\"name";
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                     AllOf(HasSubstr("the column of field \"full_name\""),
                                           HasSubstr("is not a plain SQL identifier"))));
  config = data_.Config();
  People(&config)->set_table("1people");
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AdapterConfigTest, IdentifierRule) {
  EXPECT_TRUE(IsValidSqlIdentifier("people"));
  EXPECT_TRUE(IsValidSqlIdentifier("_Tbl_2"));
  EXPECT_FALSE(IsValidSqlIdentifier(""));
  EXPECT_FALSE(IsValidSqlIdentifier("2tbl"));
  EXPECT_FALSE(IsValidSqlIdentifier("a-b"));
  EXPECT_FALSE(IsValidSqlIdentifier("a b"));
  EXPECT_FALSE(IsValidSqlIdentifier("main.people"));
}

TEST_F(AdapterConfigTest, UnknownMessageTypeListsTheTypes) {
  v1::AdapterConfig config = data_.Config();
  People(&config)->set_message_type("pop.v1.Citizen");
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                     AllOf(HasSubstr("message_type \"pop.v1.Citizen\""),
                                           HasSubstr("pop.v1.Person, pop.v1.Household"))));
}

TEST_F(AdapterConfigTest, BadProtoNamesFileAndLine) {
  ASSERT_THAT(
      WriteFileAtomically(data_.dir() + "/bad.proto",
                          "syntax = \"proto3\";\nmessage Person {\n  string x = 1\n}\n", 0644),
      IsOk());
  v1::AdapterConfig config = data_.Config();
  People(&config)->set_proto_file("bad.proto");
  EXPECT_THAT(Load(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad.proto:4:")));
}

TEST_F(AdapterConfigTest, MissingProtoFileIsNotFound) {
  v1::AdapterConfig config = data_.Config();
  People(&config)->set_proto_file("nowhere.proto");
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kNotFound, HasSubstr("nowhere.proto")));
}

TEST_F(AdapterConfigTest, MissingDatabaseIsNotFound) {
  v1::AdapterConfig config = data_.Config();
  People(&config)->mutable_sqlite()->set_path("missing.db");
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.db")));
}

TEST_F(AdapterConfigTest, FileThatIsNotADatabaseIsRefused) {
  ASSERT_THAT(WriteFileAtomically(data_.dir() + "/junk.db", std::string(4096, 'x'), 0644), IsOk());
  v1::AdapterConfig config = data_.Config();
  People(&config)->mutable_sqlite()->set_path("junk.db");
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("junk.db")));
}

TEST_F(AdapterConfigTest, KeyFieldMustExistAndBeAKeyType) {
  v1::AdapterConfig config = data_.Config();
  People(&config)->set_key_field("cccd");
  EXPECT_THAT(Load(config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("key_field \"cccd\""), HasSubstr("citizen_id, full_name"))));
  People(&config)->set_key_field("alive");
  EXPECT_THAT(Load(config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("a key must be a singular string, bytes or integer field")));
}

TEST_F(AdapterConfigTest, ColumnsMustMapFieldsOfTheMessage) {
  v1::AdapterConfig config = data_.Config();
  (*People(&config)->mutable_columns())["nickname"] = "full_name";
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("columns maps \"nickname\", which is not a field")));
}

TEST_F(AdapterConfigTest, UnsupportedFieldTypesAreRefused) {
  ASSERT_THAT(WriteFileAtomically(data_.dir() + "/map.proto",
                                  "syntax = \"proto3\";\npackage pop.v1;\nmessage Household {\n"
                                  "  int64 household_id = 1;\n  map<string, string> address = 2;\n"
                                  "}\n",
                                  0644),
              IsOk());
  v1::AdapterConfig config = data_.Config();
  config.mutable_datasets(1)->set_proto_file("map.proto");
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("field \"address\" is a map")));
}

// SQLite has no array columns: a repeated field is refused at start, with where it can be served.
TEST_F(AdapterConfigTest, SqliteRefusesARepeatedField) {
  ASSERT_THAT(WriteFileAtomically(data_.dir() + "/repeated.proto",
                                  "syntax = \"proto3\";\npackage pop.v1;\nmessage Household {\n"
                                  "  int64 household_id = 1;\n  repeated string address = 2;\n}\n",
                                  0644),
              IsOk());
  v1::AdapterConfig config = data_.Config();
  config.mutable_datasets(1)->set_proto_file("repeated.proto");
  EXPECT_THAT(Load(config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("dataset pop/households: field \"address\" is repeated, and "
                                       "SQLite has no array columns"),
                             HasSubstr("postgresql backend"), HasSubstr("rest backend"))));
}

TEST_F(AdapterConfigTest, TopLevelSettingsAreChecked) {
  v1::AdapterConfig config = data_.Config();
  config.clear_listen_address();
  EXPECT_THAT(Load(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("listen_address is empty")));
  config = data_.Config();
  config.mutable_tls()->clear_key_file();
  EXPECT_THAT(Load(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tls.key_file is empty")));
  config = data_.Config();
  config.set_trust_domain("NDX Test");
  EXPECT_THAT(Load(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("trust domain")));
  config = data_.Config();
  config.add_allowed_gateways("Core!");
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("allowed_gateways has \"Core!\"")));
  config = data_.Config();
  config.clear_allowed_gateways();
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("allowed_gateways is empty; list the names of the "
                                               "gateways this adapter answers, e.g. "
                                               "allowed_gateways: \"core\"")));
  config = data_.Config();
  config.clear_datasets();
  EXPECT_THAT(Load(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("datasets is empty")));
  config = data_.Config();
  config.set_max_message_bytes(1 << 16);
  ASSERT_THAT(Load(config), IsOk());
  EXPECT_EQ(Load(config)->max_message_bytes, 1 << 16);
}

TEST_F(AdapterConfigTest, DatasetsAreCheckedEach) {
  v1::AdapterConfig config = data_.Config();
  *config.add_datasets() = config.datasets(0);
  EXPECT_THAT(Load(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                     AllOf(HasSubstr("datasets[2]"), HasSubstr("bound twice"))));
  config = data_.Config();
  People(&config)->set_dataset("Pop/People");
  EXPECT_THAT(Load(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset id \"Pop/People\"")));
  config = data_.Config();
  People(&config)->clear_sqlite();
  EXPECT_THAT(Load(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no backend")));
}

}  // namespace
}  // namespace ndx::adapters
