#include "adapters/postgresql_backend.h"

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "adapters/adapter_config.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "testing/postgres_server.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"

namespace ndx::adapters {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::PostgresServer;
using ::ndx::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNoDeadline = absl::InfiniteFuture();

constexpr char kPersonProto[] = R"(syntax = "proto3";
package reg.v1;
import "google/protobuf/timestamp.proto";
enum Sex {
  SEX_UNSPECIFIED = 0;
  MALE = 1;
  FEMALE = 2;
}
message Person {
  string citizen_id = 1;
  string full_name = 2;
  string birth_date = 3;
  google.protobuf.Timestamp registered_at = 4;
  int32 household_size = 5;
  bool alive = 6;
  double income = 7;
  bytes photo = 8;
  Sex sex = 9;
  google.protobuf.Timestamp born_on = 10;
  uint64 tax_number = 11;
  string person_uuid = 12;
  int64 updated_seconds = 13;
  int32 sex_code = 14;
}
)";

// One row with every column set, one with NULLs, and p100..p124 for paging.
constexpr char kData[] = R"sql(
CREATE TABLE people (
  citizen_id text PRIMARY KEY, full_name text, birth_date date, registered_at timestamptz,
  household_size integer, alive boolean, income numeric(12, 2), photo bytea, sex text,
  born_on date, tax_number numeric(20, 0), person_uuid uuid, updated_seconds bigint,
  sex_code smallint);
INSERT INTO people VALUES
  ('001', 'Nguyễn Văn An', '1990-04-02', '2024-01-02 10:00:00+07', 4, true, 1234.50,
   '\x0102ff', 'MALE', '1990-04-02', 18446744073709551615,
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1700000000, 2),
  ('002', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO people (citizen_id, full_name, household_size, alive)
  SELECT 'p' || i, 'Person ' || i, 3, i % 2 = 0 FROM generate_series(100, 124) AS i;
CREATE TABLE odd (citizen_id text PRIMARY KEY, full_name jsonb);
CREATE VIEW slow_people AS SELECT people.*, pg_sleep(5)::text AS nap FROM people;
)sql";

// Repeated fields of every kind an array column can be read into, and two messages that do not
// fit the tables below (a singular field on an array column).
constexpr char kListsProto[] = R"(syntax = "proto3";
package reg.v1;
import "google/protobuf/timestamp.proto";
enum Sex {
  SEX_UNSPECIFIED = 0;
  MALE = 1;
  FEMALE = 2;
}
message Lists {
  string id = 1;
  repeated int32 counts = 2;
  repeated int64 bigs = 3;
  repeated string names = 4;
  repeated bool flags = 5;
  repeated double ratios = 6;
  repeated double amounts = 7;
  repeated google.protobuf.Timestamp days = 8;
  repeated google.protobuf.Timestamp moments = 9;
  repeated bytes blobs = 10;
  repeated int32 grid = 11;
  repeated Sex sexes = 12;
}
message Flat {
  string id = 1;
  int32 counts = 2;
}
)";

// "a" with every array set, "b" with NULL arrays, "c" with empty ones; "h" in holes has a NULL
// element; scalar_lists and text_flags have the columns of lists but one of another type.
constexpr char kListsData[] = R"sql(
CREATE TABLE lists (
  id text PRIMARY KEY, counts int4[], bigs int8[], names text[], flags bool[], ratios float8[],
  amounts numeric[], days date[], moments timestamptz[], blobs bytea[], grid int4[][],
  sexes text[]);
INSERT INTO lists VALUES
  ('a', '{3,1,2,1}', '{9000000000,-1,0}', ARRAY['Nguyễn Văn An', 'b,c', '', 'NULL'],
   '{true,false,true}', '{1.5,-0.25,0}', '{1234.50,0.1}', '{1990-04-02,2000-01-01}',
   '{"2024-01-02 10:00:00+07","1970-01-01 00:00:00.5+00"}', ARRAY['\x0102ff'::bytea, '\x'],
   '{{1,2,3},{4,5,6}}', '{FEMALE,MALE}'),
  ('b', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  ('c', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}');
CREATE TABLE holes (LIKE lists INCLUDING ALL);
INSERT INTO holes (id, counts, names) VALUES ('h', '{7070707,NULL,8080808}', '{secret-0790}');
CREATE TABLE scalar_lists (LIKE lists INCLUDING ALL);
ALTER TABLE scalar_lists ALTER COLUMN counts TYPE integer USING NULL;
CREATE TABLE text_flags (LIKE lists INCLUDING ALL);
ALTER TABLE text_flags ALTER COLUMN flags TYPE text[] USING NULL;
)sql";

class PostgresqlBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!PostgresServer::Unavailable().empty()) return;
    absl::StatusOr<std::unique_ptr<PostgresServer>> server = PostgresServer::Start();
    ASSERT_THAT(server, IsOk());
    server_ = server->release();
    ASSERT_THAT(server_->Exec("CREATE DATABASE registry"), IsOk());
    ASSERT_THAT(server_->Exec(kData, "registry"), IsOk());
    ASSERT_THAT(server_->Exec(kListsData, "registry"), IsOk());
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    if (server_ == nullptr) GTEST_SKIP() << PostgresServer::Unavailable();
    std::ofstream(dir_.Join("person.proto")) << kPersonProto;
    std::ofstream(dir_.Join("lists.proto")) << kListsProto;
  }

  // The adapter's config binding reg/people to `table`, with extra postgresql settings.
  v1::AdapterConfig Config(const std::string& table = "people",
                           const std::string& postgresql = "") const {
    v1::AdapterConfig config;
    const std::string text = absl::StrCat(
        R"(listen_address: "127.0.0.1:0" trust_domain: "ndx.test" allowed_gateways: "core"
        tls { ca_file: "ca.pem" cert_file: "tls.pem" key_file: "tls.key" }
        datasets { dataset: "reg/people" proto_file: "person.proto"
          message_type: "reg.v1.Person" key_field: "citizen_id" table: ")",
        table, R"(" postgresql { connection: ")", server_->ConnectionString("registry"), "\" ",
        postgresql, " } }");
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
    return config;
  }

  absl::StatusOr<LoadedAdapterConfig> Load(const std::string& table = "people",
                                           const std::string& postgresql = "") const {
    return LoadAdapterConfig(Config(table, postgresql), dir_.Join("adapter.textproto"));
  }

  // `message` of lists.proto served from `table` as reg/lists.
  absl::StatusOr<LoadedAdapterConfig> LoadLists(const std::string& table,
                                                const std::string& message = "reg.v1.Lists") const {
    v1::AdapterConfig config = Config(table);
    v1::DatasetBinding* binding = config.mutable_datasets(0);
    binding->set_dataset("reg/lists");
    binding->set_proto_file("lists.proto");
    binding->set_message_type(message);
    binding->set_key_field("id");
    return LoadAdapterConfig(config, dir_.Join("adapter.textproto"));
  }

  static std::string RecordText(const ServedDataset& dataset, const std::string& record) {
    std::unique_ptr<google::protobuf::Message> message =
        dataset.binding->schema->NewMessage(dataset.binding->message);
    EXPECT_TRUE(message->ParseFromString(record));
    return message->ShortDebugString();
  }

  // reg/people as loaded once per test.
  const ServedDataset& People() {
    if (!people_.has_value()) {
      absl::StatusOr<LoadedAdapterConfig> loaded = Load();
      EXPECT_THAT(loaded, IsOk());
      people_ = *std::move(loaded);
    }
    return people_->datasets.at("reg/people");
  }

  std::string PersonText(const std::string& key) {
    const ServedDataset& people = People();
    absl::StatusOr<std::string> record =
        people.backend->Fetch(*people.binding, key, {}, kNoDeadline);
    EXPECT_THAT(record, IsOk());
    if (!record.ok()) return "";
    std::unique_ptr<google::protobuf::Message> message =
        people.binding->schema->NewMessage(people.binding->message);
    EXPECT_TRUE(message->ParseFromString(*record));
    return message->ShortDebugString();
  }

  std::vector<std::string> Ids(const SearchPage& page) {
    std::vector<std::string> ids;
    const ServedDataset& people = People();
    for (const std::string& record : page.records) {
      std::unique_ptr<google::protobuf::Message> message =
          people.binding->schema->NewMessage(people.binding->message);
      EXPECT_TRUE(message->ParseFromString(record));
      ids.push_back(message->GetReflection()->GetString(
          *message, message->GetDescriptor()->FindFieldByName("citizen_id")));
    }
    return ids;
  }

  static PostgresServer* server_;
  ndx::testing::TempDir dir_;
  std::optional<LoadedAdapterConfig> people_;
};

PostgresServer* PostgresqlBackendTest::server_ = nullptr;

TEST_F(PostgresqlBackendTest, ReadsEveryKindOfColumnIntoItsField) {
  EXPECT_EQ(PersonText("001"),
            "citizen_id: \"001\" full_name: \"Nguy\\341\\273\\205n V\\304\\203n An\" "
            "birth_date: \"1990-04-02\" registered_at { seconds: 1704164400 } "
            "household_size: 4 alive: true income: 1234.5 photo: \"\\001\\002\\377\" sex: MALE "
            "born_on { seconds: 639014400 } tax_number: 18446744073709551615 "
            "person_uuid: \"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\" "
            "updated_seconds: 1700000000 sex_code: 2");
  // NULL columns leave their fields unset.
  EXPECT_EQ(PersonText("002"), "citizen_id: \"002\"");
}

TEST_F(PostgresqlBackendTest, FetchesOnlyTheRequestedFields) {
  const ServedDataset& people = People();
  absl::StatusOr<std::string> record =
      people.backend->Fetch(*people.binding, "001", {"sex", "full_name"}, kNoDeadline);
  ASSERT_THAT(record, IsOk());
  std::unique_ptr<google::protobuf::Message> message =
      people.binding->schema->NewMessage(people.binding->message);
  ASSERT_TRUE(message->ParseFromString(*record));
  EXPECT_EQ(message->ShortDebugString(),
            "full_name: \"Nguy\\341\\273\\205n V\\304\\203n An\" sex: MALE");
}

TEST_F(PostgresqlBackendTest, AMissingKeyIsNotFoundAndNeverQuoted) {
  const ServedDataset& people = People();
  const std::string key = "001' OR '1'='1";
  absl::StatusOr<std::string> record = people.backend->Fetch(*people.binding, key, {}, kNoDeadline);
  EXPECT_THAT(record, StatusIs(absl::StatusCode::kNotFound, HasSubstr("citizen_id")));
  EXPECT_THAT(record.status().message(), Not(HasSubstr(key)));
  // The key was a value, not SQL: every row is still there, none matched it.
  absl::StatusOr<std::string> rows = server_->Query("SELECT count(*) FROM people", "registry");
  ASSERT_THAT(rows, IsOk());
  EXPECT_EQ(*rows, "27");
}

TEST_F(PostgresqlBackendTest, FiltersOnEveryKindOfColumn) {
  const ServedDataset& people = People();
  auto search = [&](const std::vector<FieldFilter>& filters) {
    absl::StatusOr<SearchPage> page =
        people.backend->Search(*people.binding, filters, {}, 50, "", kNoDeadline);
    EXPECT_THAT(page, IsOk());
    return page.ok() ? Ids(*page) : std::vector<std::string>{};
  };
  EXPECT_THAT(search({{"sex", "MALE"}}), ElementsAre("001"));
  EXPECT_THAT(search({{"sex_code", "2"}}), ElementsAre("001"));
  EXPECT_THAT(search({{"birth_date", "1990-04-02"}}), ElementsAre("001"));
  // The same instant in another zone.
  EXPECT_THAT(search({{"registered_at", "2024-01-02T03:00:00Z"}}), ElementsAre("001"));
  EXPECT_THAT(search({{"born_on", "1990-04-02T00:00:00Z"}}), ElementsAre("001"));
  EXPECT_THAT(search({{"income", "1234.5"}}), ElementsAre("001"));
  EXPECT_THAT(search({{"tax_number", "18446744073709551615"}}), ElementsAre("001"));
  EXPECT_THAT(search({{"photo", "AQL/"}}), ElementsAre("001"));
  EXPECT_THAT(search({{"person_uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}}),
              ElementsAre("001"));
  EXPECT_THAT(search({{"alive", "true"}, {"household_size", "4"}}), ElementsAre("001"));
  EXPECT_EQ(search({{"alive", "false"}, {"household_size", "3"}}).size(), 12u);
}

TEST_F(PostgresqlBackendTest, PagesFollowTheKeyWithoutRepeatsOrGaps) {
  const ServedDataset& people = People();
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<SearchPage> page = people.backend->Search(
        *people.binding, {{"household_size", "3"}}, {"citizen_id"}, 10, token, kNoDeadline);
    ASSERT_THAT(page, IsOk());
    for (const std::string& id : Ids(*page)) seen.push_back(id);
    token = page->next_page_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen.front(), "p100");
  EXPECT_EQ(seen.back(), "p124");
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  // A token is bound to its filters.
  absl::StatusOr<SearchPage> first =
      people.backend->Search(*people.binding, {{"household_size", "3"}}, {}, 10, "", kNoDeadline);
  ASSERT_THAT(first, IsOk());
  EXPECT_THAT(people.backend->Search(*people.binding, {{"household_size", "4"}}, {}, 10,
                                     first->next_page_token, kNoDeadline),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(PostgresqlBackendTest, AValueThatDoesNotFitItsColumnIsRefusedWithoutQuotingIt) {
  const ServedDataset& people = People();
  const std::string value = "not-a-uuid-0123456789";
  absl::StatusOr<SearchPage> page =
      people.backend->Search(*people.binding, {{"person_uuid", value}}, {}, 10, "", kNoDeadline);
  EXPECT_THAT(page, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("22P02")));
  EXPECT_THAT(page.status().message(), Not(HasSubstr(value)));
  // The connection is still usable.
  EXPECT_THAT(PersonText("002"), HasSubstr("002"));
}

TEST_F(PostgresqlBackendTest, StartUpNamesWhatDoesNotMatchTheSchema) {
  EXPECT_THAT(Load("odd"), StatusIs(absl::StatusCode::kInvalidArgument,
                                    AllOf(HasSubstr("column \"full_name\""), HasSubstr("jsonb"),
                                          HasSubstr("field \"full_name\""))));
  EXPECT_THAT(Load("nobody"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("table \"nobody\" does not exist"), HasSubstr("people"))));
  ASSERT_THAT(server_->Exec("CREATE TABLE thin (citizen_id text PRIMARY KEY)", "registry"), IsOk());
  EXPECT_THAT(Load("thin"), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("no column for field \"full_name\"")));
  v1::AdapterConfig unreachable = Config();
  unreachable.mutable_datasets(0)->mutable_postgresql()->set_connection(
      "host=127.0.0.1 port=1 dbname=registry user=postgres connect_timeout=2");
  EXPECT_THAT(LoadAdapterConfig(unreachable, dir_.Join("adapter.textproto")),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cannot connect to PostgreSQL")));
}

TEST_F(PostgresqlBackendTest, TheDeadlineCancelsAStatementStillRunning) {
  absl::StatusOr<LoadedAdapterConfig> loaded = Load("slow_people", "max_connections: 1");
  ASSERT_THAT(loaded, IsOk());
  const ServedDataset& slow = loaded->datasets.at("reg/people");
  const absl::Time start = absl::Now();
  EXPECT_THAT(slow.backend->Fetch(*slow.binding, "001", {}, start + absl::Milliseconds(200)),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("cancelled")));
  // Cancelled on the server, not only abandoned by the adapter: the session goes idle (the
  // statement alone would have run five seconds).
  absl::StatusOr<std::string> running;
  for (int i = 0; i < 50; ++i) {
    running = server_->Query(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND application_name = "
        "'ndx-adapter'",
        "registry");
    if (!running.ok() || *running == "0") break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_THAT(running, IsOk());
  EXPECT_EQ(*running, "0");
  // The pool's one connection serves the next call, which meets its own deadline.
  EXPECT_THAT(
      slow.backend->Search(*slow.binding, {}, {}, 5, "", absl::Now() + absl::Milliseconds(200)),
      StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(PostgresqlBackendTest, ASessionTheServerEndedIsReplacedWithoutFailingTheRead) {
  absl::StatusOr<LoadedAdapterConfig> loaded = Load("people", "max_connections: 2");
  ASSERT_THAT(loaded, IsOk());
  const ServedDataset& people = loaded->datasets.at("reg/people");
  ASSERT_THAT(people.backend->Fetch(*people.binding, "001", {}, kNoDeadline), IsOk());
  // As a restart or an administrator would: every session of the adapter ends.
  ASSERT_THAT(server_->Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                            "application_name = 'ndx-adapter'",
                            "registry"),
              IsOk());
  EXPECT_THAT(people.backend->Fetch(*people.binding, "001", {}, kNoDeadline), IsOk());
  EXPECT_THAT(
      people.backend->Search(*people.binding, {{"household_size", "3"}}, {}, 5, "", kNoDeadline),
      IsOk());
}

TEST_F(PostgresqlBackendTest, StatementTimeoutBacksUpTheDeadline) {
  absl::StatusOr<LoadedAdapterConfig> loaded = Load("slow_people", "statement_timeout_ms: 200");
  ASSERT_THAT(loaded, IsOk());
  const ServedDataset& slow = loaded->datasets.at("reg/people");
  EXPECT_THAT(slow.backend->Fetch(*slow.binding, "001", {}, kNoDeadline),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("statement_timeout")));
}

TEST_F(PostgresqlBackendTest, ConcurrentCallsStayWithinThePool) {
  absl::StatusOr<LoadedAdapterConfig> loaded = Load("people", "max_connections: 2");
  ASSERT_THAT(loaded, IsOk());
  const ServedDataset& people = loaded->datasets.at("reg/people");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        const std::string key = absl::StrCat("p", 100 + (t * 7 + i) % 25);
        if (!people.backend->Fetch(*people.binding, key, {}, kNoDeadline).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  absl::StatusOr<std::string> sessions = server_->Query(
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
      "'ndx-adapter' AND datname = 'registry'",
      "registry");
  ASSERT_THAT(sessions, IsOk());
  EXPECT_THAT(*sessions, ::testing::AnyOf("1", "2"));
}

TEST_F(PostgresqlBackendTest, ReadsOverTlsWhenTheConnectionStringAsksForIt) {
  ndx::testing::TestPki pki;
  const crypto::TlsFilePaths database = pki.Node("mops/population-db");
  absl::StatusOr<std::unique_ptr<PostgresServer>> server =
      PostgresServer::Start(PostgresServer::Tls{database.cert_file, database.key_file});
  ASSERT_THAT(server, IsOk());
  ASSERT_THAT(
      (*server)->Exec("CREATE TABLE people (citizen_id text PRIMARY KEY, full_name text, "
                      "household_size integer); INSERT INTO people VALUES ('001', 'An', 4)"),
      IsOk());
  std::ofstream(dir_.Join("thin.proto")) << R"(syntax = "proto3";
package reg.v1;
message Person { string citizen_id = 1; string full_name = 2; int32 household_size = 3; }
)";
  auto config_with = [&](const std::string& tls_settings) {
    v1::AdapterConfig config = Config();
    v1::DatasetBinding* binding = config.mutable_datasets(0);
    binding->set_proto_file("thin.proto");
    binding->mutable_postgresql()->set_connection(
        absl::StrCat((*server)->ConnectionString(), " ", tls_settings));
    return LoadAdapterConfig(config, dir_.Join("adapter.textproto"));
  };
  absl::StatusOr<LoadedAdapterConfig> loaded =
      config_with(absl::StrCat("sslmode=verify-ca sslrootcert=", database.ca_file));
  ASSERT_THAT(loaded, IsOk());
  const ServedDataset& people = loaded->datasets.at("reg/people");
  EXPECT_THAT(people.backend->Fetch(*people.binding, "001", {}, kNoDeadline), IsOk());
  absl::StatusOr<std::string> encrypted = (*server)->Query(
      "SELECT bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE "
      "application_name = 'ndx-adapter'");
  ASSERT_THAT(encrypted, IsOk());
  EXPECT_EQ(*encrypted, "t");
  // A server whose certificate another CA signed is refused at start.
  ndx::testing::TestPki other;
  EXPECT_THAT(config_with(absl::StrCat("sslmode=verify-ca sslrootcert=", other.ca_file())),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cannot connect to PostgreSQL")));
}

constexpr char kListA[] =
    "id: \"a\" counts: 3 counts: 1 counts: 2 counts: 1 bigs: 9000000000 bigs: -1 bigs: 0 "
    "names: \"Nguy\\341\\273\\205n V\\304\\203n An\" names: \"b,c\" names: \"\" "
    "names: \"NULL\" flags: true flags: false flags: true ratios: 1.5 ratios: -0.25 ratios: 0 "
    "amounts: 1234.5 amounts: 0.1 days { seconds: 639014400 } days { seconds: 946684800 } "
    "moments { seconds: 1704164400 } moments { nanos: 500000000 } "
    "blobs: \"\\001\\002\\377\" blobs: \"\" grid: 1 grid: 2 grid: 3 grid: 4 grid: 5 grid: 6 "
    "sexes: FEMALE sexes: MALE";

TEST_F(PostgresqlBackendTest, ArrayColumnsAreReadIntoRepeatedFieldsInOrder) {
  absl::StatusOr<LoadedAdapterConfig> loaded = LoadLists("lists");
  ASSERT_THAT(loaded, IsOk());
  const ServedDataset& lists = loaded->datasets.at("reg/lists");
  auto fetch = [&](const std::string& key, const std::vector<std::string>& fields = {}) {
    absl::StatusOr<std::string> record =
        lists.backend->Fetch(*lists.binding, key, fields, kNoDeadline);
    EXPECT_THAT(record, IsOk()) << key;
    return record.ok() ? RecordText(lists, *record) : "";
  };
  // Elements keep their order and repeats; a two-dimensional array is read row by row.
  EXPECT_EQ(fetch("a"), kListA);
  EXPECT_EQ(fetch("a", {"grid", "names"}),
            "names: \"Nguy\\341\\273\\205n V\\304\\203n An\" names: \"b,c\" names: \"\" "
            "names: \"NULL\" grid: 1 grid: 2 grid: 3 grid: 4 grid: 5 grid: 6");
  // A NULL array and an empty one are both an empty repeated field.
  EXPECT_EQ(fetch("b"), "id: \"b\"");
  EXPECT_EQ(fetch("c"), "id: \"c\"");

  std::vector<std::string> texts;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<SearchPage> page =
        lists.backend->Search(*lists.binding, {}, {}, 2, token, kNoDeadline);
    ASSERT_THAT(page, IsOk());
    for (const std::string& record : page->records) texts.push_back(RecordText(lists, record));
    token = page->next_page_token;
  } while (!token.empty() && ++pages < 5);
  EXPECT_THAT(texts, ElementsAre(kListA, "id: \"b\"", "id: \"c\""));
}

// A repeated field has no place for a NULL element: the read fails, naming the column and never
// the array's values; a call that does not read that column is answered.
TEST_F(PostgresqlBackendTest, ANullElementIsAnErrorNamingTheColumnNotTheValues) {
  absl::StatusOr<LoadedAdapterConfig> loaded = LoadLists("holes");
  ASSERT_THAT(loaded, IsOk());
  const ServedDataset& holes = loaded->datasets.at("reg/lists");
  const auto names_the_column_only = StatusIs(
      absl::StatusCode::kInternal,
      AllOf(HasSubstr("dataset reg/lists: column \"counts\" of table \"holes\""),
            HasSubstr("array with a NULL element, which repeated field \"counts\" cannot hold"),
            Not(HasSubstr("7070707")), Not(HasSubstr("8080808")), Not(HasSubstr("secret-0790"))));
  EXPECT_THAT(holes.backend->Fetch(*holes.binding, "h", {}, kNoDeadline), names_the_column_only);
  EXPECT_THAT(holes.backend->Search(*holes.binding, {}, {}, 10, "", kNoDeadline),
              names_the_column_only);
  absl::StatusOr<std::string> names =
      holes.backend->Fetch(*holes.binding, "h", {"names"}, kNoDeadline);
  ASSERT_THAT(names, IsOk());
  EXPECT_EQ(RecordText(holes, *names), "names: \"secret-0790\"");
}

TEST_F(PostgresqlBackendTest, StartUpRefusesAnArrayColumnForASingularFieldAndTheReverse) {
  EXPECT_THAT(LoadLists("lists", "reg.v1.Flat"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("dataset reg/lists: column \"counts\" of table \"lists\""),
                             HasSubstr("is of type integer[], which field \"counts\" (int32)"),
                             HasSubstr("make the field repeated"))));
  EXPECT_THAT(
      LoadLists("scalar_lists"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("column \"counts\" of table \"scalar_lists\""),
                     HasSubstr("is of type integer, which field \"counts\" (repeated int32)"),
                     HasSubstr("a repeated field reads from an array column"))));
  // An array whose elements the field's elements cannot be read from.
  EXPECT_THAT(LoadLists("text_flags"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("column \"flags\" of table \"text_flags\""),
                             HasSubstr("is of type text[], which field \"flags\" (repeated bool"),
                             HasSubstr("change the field's type"))));
}

TEST_F(PostgresqlBackendTest, AFilterOnARepeatedFieldIsRefused) {
  absl::StatusOr<LoadedAdapterConfig> loaded = LoadLists("lists");
  ASSERT_THAT(loaded, IsOk());
  const ServedDataset& lists = loaded->datasets.at("reg/lists");
  EXPECT_THAT(lists.backend->Search(*lists.binding, {{"counts", "3"}}, {}, 10, "", kNoDeadline),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "filter: field \"counts\" is repeated; a filter compares a single value, "
                       "so repeated fields cannot be filtered"));
}

}  // namespace
}  // namespace ndx::adapters
