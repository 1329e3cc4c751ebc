#include "adapters/sqlite_backend.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "adapters/adapter_config.h"
#include "test_data.h"
#include "testing/status_matchers.h"

namespace ndx::adapters {
namespace {

using ::ndx::adapters::testing::ParseRecord;
using ::ndx::adapters::testing::PopulationData;
using ::ndx::adapters::testing::StringField;
using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kNoDeadline = absl::InfiniteFuture();
using ::testing::IsEmpty;
using ::testing::Not;

class SqliteBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<LoadedAdapterConfig> loaded = LoadAdapterConfigFile(data_.config_path());
    ASSERT_THAT(loaded, IsOk());
    config_ = *std::move(loaded);
  }

  const ServedDataset& people() const { return config_.datasets.at("pop/people"); }
  const ServedDataset& households() const { return config_.datasets.at("pop/households"); }

  absl::StatusOr<std::string> FetchPerson(absl::string_view key,
                                          const std::vector<std::string>& fields = {}) {
    return people().backend->Fetch(*people().binding, key, fields, kNoDeadline);
  }
  // The person as text, e.g. 'citizen_id: "001" full_name: "..."'.
  std::string PersonText(absl::string_view key, const std::vector<std::string>& fields = {}) {
    absl::StatusOr<std::string> record = FetchPerson(key, fields);
    EXPECT_THAT(record, IsOk());
    return record.ok() ? ParseRecord(people(), *record)->ShortDebugString() : "";
  }
  absl::StatusOr<SearchPage> SearchPeople(const std::vector<FieldFilter>& filters,
                                          int page_size = 0, const std::string& token = "",
                                          const std::vector<std::string>& fields = {}) {
    return people().backend->Search(*people().binding, filters, fields, page_size, token,
                                    kNoDeadline);
  }
  // The citizen ids of a page, in order.
  std::vector<std::string> Ids(const SearchPage& page) {
    std::vector<std::string> ids;
    for (const std::string& record : page.records) {
      ids.push_back(StringField(*ParseRecord(people(), record), "citizen_id"));
    }
    return ids;
  }

  PopulationData data_;
  LoadedAdapterConfig config_;
};

TEST_F(SqliteBackendTest, FetchesByStringKeyWithEveryType) {
  EXPECT_EQ(PersonText("001"),
            "citizen_id: \"001\" full_name: \"Nguyen Van A\" birth_year: 1980 sex: MALE "
            "alive: true height_m: 1.72 registered_at { seconds: 1577934245 } "
            "photo: \"\\001\\002\" province: \"HN\" household: 7");
}

TEST_F(SqliteBackendTest, NullColumnsStayUnsetAndStorageVariantsConvert) {
  // Enum stored as its number, time as integer seconds, NULL height, photo and time.
  EXPECT_EQ(PersonText("002"),
            "citizen_id: \"002\" full_name: \"Tran Thi B\" birth_year: 1985 sex: FEMALE "
            "registered_at { seconds: 1600000000 } province: \"HN\" household: 7");
  std::unique_ptr<google::protobuf::Message> person = ParseRecord(people(), *FetchPerson("003"));
  EXPECT_FALSE(
      person->GetReflection()->HasField(*person, person->GetDescriptor()->FindFieldByName("sex")));
  // SQLite's own "YYYY-MM-DD HH:MM:SS" is UTC.
  EXPECT_EQ(PersonText("003", {"registered_at"}), "registered_at { seconds: 1622541600 }");
}

TEST_F(SqliteBackendTest, FetchesByIntegerKey) {
  absl::StatusOr<std::string> record =
      households().backend->Fetch(*households().binding, "8", {}, kNoDeadline);
  ASSERT_THAT(record, IsOk());
  EXPECT_EQ(ParseRecord(households(), *record)->ShortDebugString(),
            "household_id: 8 address: \"2 Le Loi, Ho Chi Minh City\"");
  EXPECT_THAT(households().backend->Fetch(*households().binding, "9", {}, kNoDeadline),
              StatusIs(absl::StatusCode::kNotFound,
                       "dataset pop/households has no record with this household_id"));
}

TEST_F(SqliteBackendTest, ReturnsOnlyRequestedFields) {
  EXPECT_EQ(PersonText("001", {"province", "full_name"}),
            "full_name: \"Nguyen Van A\" province: \"HN\"");
  EXPECT_EQ(PersonText("001", {"birth_year", "birth_year"}), "birth_year: 1980");
  EXPECT_THAT(FetchPerson("001", {"full_name", "salary"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no field \"salary\"")));
}

TEST_F(SqliteBackendTest, ReadsOnlyRequestedColumns) {
  // Row 999's birth_year is not a number: it fails only when that field is asked for.
  EXPECT_THAT(FetchPerson("999"),
              StatusIs(absl::StatusCode::kInternal,
                       AllOf(HasSubstr("column \"birth_year\""), HasSubstr("expects int32"),
                             HasSubstr("holds a text value"), Not(HasSubstr("nineteen")))));
  EXPECT_EQ(PersonText("999", {"full_name"}), "full_name: \"Broken Row\"");
}

TEST_F(SqliteBackendTest, MissingKeyIsNotFoundWithoutTheKey) {
  EXPECT_THAT(FetchPerson("001099999999"),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("dataset pop/people has no record with this citizen_id"),
                             Not(HasSubstr("001099999999")))));
}

TEST_F(SqliteBackendTest, KeyOnSeveralRowsIsNamedByColumnNotValue) {
  data_.Exec(
      "CREATE TABLE people_twice AS SELECT * FROM people;"
      "INSERT INTO people_twice (citizen_id, full_name) VALUES ('001099999999', 'Nguyen Van An'),"
      "  ('001099999999', 'Nguyen Van An');");
  absl::StatusOr<std::unique_ptr<SqliteBackend>> backend =
      SqliteBackend::Open(data_.db_path(), SqliteBackendOptions());
  ASSERT_THAT(backend, IsOk());
  Binding binding = *people().binding;
  binding.table = "people_twice";
  EXPECT_THAT((*backend)->Fetch(binding, "001099999999", {}, kNoDeadline),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("table \"people_twice\" has several rows with the "
                                       "requested key in column \"citizen_id\""),
                             Not(HasSubstr("001099999999")))));
}

TEST_F(SqliteBackendTest, KeyThatDoesNotConvertNamesFieldAndType) {
  EXPECT_THAT(households().backend->Fetch(*households().binding, "seven", {}, kNoDeadline),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("field \"household_id\""), HasSubstr("expects int64"),
                             Not(HasSubstr("seven")))));
  EXPECT_THAT(households().backend->Fetch(*households().binding, "7 OR 1=1", {}, kNoDeadline),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(SqliteBackendTest, SqlInjectionFindsNothingAndChangesNothing) {
  const std::vector<std::string> attacks = {
      "001' OR '1'='1",
      "001' --",
      "x'; DROP TABLE people; --",
      "001\"; DELETE FROM people; --",
      "' UNION SELECT citizen_id, full_name, 1, 1, 1, 1, 1, 1, 1, 1 FROM people --",
  };
  for (const std::string& attack : attacks) {
    EXPECT_THAT(FetchPerson(attack), StatusIs(absl::StatusCode::kNotFound)) << attack;
    absl::StatusOr<SearchPage> page = SearchPeople({{"full_name", attack}});
    ASSERT_THAT(page, IsOk()) << attack;
    EXPECT_THAT(page->records, IsEmpty()) << attack;
  }
  EXPECT_EQ(data_.QueryInt("SELECT count(*) FROM people"), 4 + PopulationData::kPagingRows);
  EXPECT_EQ(data_.QueryInt("SELECT count(*) FROM households"), 2);
}

TEST_F(SqliteBackendTest, SearchesWithSeveralFilters) {
  absl::StatusOr<SearchPage> page = SearchPeople({{"province", "HN"}, {"sex", "MALE"}});
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(Ids(*page), ElementsAre("001"));
  EXPECT_EQ(page->next_page_token, "");

  // An enum filter matches the name and the number, however the column stores it.
  EXPECT_THAT(Ids(*SearchPeople({{"sex", "FEMALE"}})), ElementsAre("002"));
  EXPECT_THAT(Ids(*SearchPeople({{"sex", "1"}})), ElementsAre("001"));
  EXPECT_THAT(Ids(*SearchPeople({{"province", "HN"}, {"alive", "false"}})), ElementsAre("002"));
  EXPECT_THAT(Ids(*SearchPeople({{"household", "7"}, {"birth_year", "1985"}})), ElementsAre("002"));
  EXPECT_THAT(Ids(*SearchPeople({{"height_m", "1.72"}})), ElementsAre("001"));
  EXPECT_THAT(Ids(*SearchPeople({{"photo", "AQI="}})), ElementsAre("001"));
  // Timestamps match as seconds or as text, whatever the offset the caller writes.
  EXPECT_THAT(Ids(*SearchPeople({{"registered_at", "2020-01-02T10:04:05+07:00"}})),
              ElementsAre("001"));
  EXPECT_THAT(Ids(*SearchPeople({{"registered_at", "2020-09-13T12:26:40Z"}})), ElementsAre("002"));
  EXPECT_THAT(Ids(*SearchPeople({{"registered_at", "1622541600"}})), ElementsAre("003"));
}

TEST_F(SqliteBackendTest, SearchReturnsRequestedFieldsOnly) {
  absl::StatusOr<SearchPage> page = SearchPeople({{"province", "HCM"}}, 0, "", {"full_name"});
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(ParseRecord(people(), page->records[0])->ShortDebugString(), "full_name: \"Le Van C\"");
}

TEST_F(SqliteBackendTest, FilterThatDoesNotConvertNamesFieldAndType) {
  EXPECT_THAT(SearchPeople({{"birth_year", "1980.5"}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "filter: field \"birth_year\" expects int32 (the value given does not "
                       "convert)"));
  EXPECT_THAT(SearchPeople({{"birth_year", "99999999999"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("int32")));
  EXPECT_THAT(SearchPeople({{"alive", "yes"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expects bool")));
  EXPECT_THAT(SearchPeople({{"sex", "OTHER"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expects enum pop.v1.Sex")));
  EXPECT_THAT(SearchPeople({{"household", "-1"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expects uint64")));
  EXPECT_THAT(
      SearchPeople({{"registered_at", "yesterday"}}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expects google.protobuf.Timestamp")));
  EXPECT_THAT(SearchPeople({{"photo", "not base64!"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bytes (base64)")));
  EXPECT_THAT(SearchPeople({{"salary", "1"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no field \"salary\"")));
}

// Filter values are citizens' data: whatever the field's type, the message leaves them out.
TEST_F(SqliteBackendTest, MessageOfFilterThatDoesNotConvertLeavesTheValueOut) {
  const std::vector<FieldFilter> filters = {
      {"birth_year", "1990-04-12"},
      {"alive", "Nguyen Van An"},
      {"sex", "079099999999"},
      {"household", "-001099999999"},
      {"registered_at", "001099999999999999"},
      {"photo", "001099999999!"},
      {"height_m", "1m72 001099999999"},
  };
  for (const FieldFilter& filter : filters) {
    EXPECT_THAT(SearchPeople({{"province", "HN"}, filter}),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(absl::StrCat("filter: field \"", filter.field, "\"")),
                               Not(HasSubstr(filter.value)))))
        << filter.field;
  }
}

TEST_F(SqliteBackendTest, PagesThroughResultsInKeyOrder) {
  const std::vector<FieldFilter> filters = {{"province", "DN"}};
  std::vector<std::string> seen;
  std::vector<size_t> sizes;
  std::string token;
  do {
    absl::StatusOr<SearchPage> page = SearchPeople(filters, 10, token);
    ASSERT_THAT(page, IsOk());
    sizes.push_back(page->records.size());
    for (const std::string& id : Ids(*page)) seen.push_back(id);
    token = page->next_page_token;
  } while (!token.empty() && sizes.size() < 10);
  EXPECT_THAT(sizes, ElementsAre(10, 10, 5));
  ASSERT_EQ(seen.size(), static_cast<size_t>(PopulationData::kPagingRows));
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size());
  EXPECT_EQ(seen.front(), "100");
  EXPECT_EQ(seen.back(), "124");
}

TEST_F(SqliteBackendTest, PageSizeDefaultsAndExactFit) {
  const std::vector<FieldFilter> filters = {{"province", "DN"}};
  absl::StatusOr<SearchPage> page = SearchPeople(filters, 0);
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->records.size(), static_cast<size_t>(PopulationData::kPagingRows));
  EXPECT_EQ(page->next_page_token, "");
  // A page that holds exactly the rest has no token: no empty last page.
  page = SearchPeople(filters, PopulationData::kPagingRows);
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->next_page_token, "");
  // Sizes past the maximum are capped, not refused.
  EXPECT_THAT(SearchPeople(filters, 5000), IsOk());
  EXPECT_THAT(SearchPeople(filters, -1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size is -1")));
}

TEST_F(SqliteBackendTest, TamperedTokenIsInvalidArgument) {
  const std::vector<FieldFilter> filters = {{"province", "DN"}};
  absl::StatusOr<SearchPage> page = SearchPeople(filters, 10);
  ASSERT_THAT(page, IsOk());
  const std::string token = page->next_page_token;
  ASSERT_FALSE(token.empty());

  // Every single-character change is caught.
  for (size_t i = 0; i < token.size(); ++i) {
    std::string tampered = token;
    tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
    EXPECT_THAT(SearchPeople(filters, 10, tampered),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")))
        << "position " << i;
  }
  EXPECT_THAT(SearchPeople(filters, 10, token.substr(0, token.size() - 4)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SearchPeople(filters, 10, "not a token!"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not base64")));
  // A token is for its own query.
  EXPECT_THAT(SearchPeople({{"province", "HN"}}, 10, token),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("other filters")));
  EXPECT_THAT(
      households().backend->Search(*households().binding, filters, {}, 10, token, kNoDeadline),
      StatusIs(absl::StatusCode::kInvalidArgument));
  // The untouched token still works.
  EXPECT_THAT(SearchPeople(filters, 10, token), IsOk());
}

TEST_F(SqliteBackendTest, IntegerKeysPageInNumericOrder) {
  for (int id = 9; id <= 12; ++id) {
    data_.Exec("INSERT INTO households VALUES (" + std::to_string(id) + ", 'x')");
  }
  std::vector<int64_t> seen;
  std::string token;
  do {
    absl::StatusOr<SearchPage> page = households().backend->Search(
        *households().binding, {}, {"household_id"}, 2, token, kNoDeadline);
    ASSERT_THAT(page, IsOk());
    for (const std::string& record : page->records) {
      auto message = ParseRecord(households(), record);
      seen.push_back(message->GetReflection()->GetInt64(
          *message, message->GetDescriptor()->FindFieldByName("household_id")));
    }
    token = page->next_page_token;
  } while (!token.empty() && seen.size() < 20);
  EXPECT_THAT(seen, ElementsAre(7, 8, 9, 10, 11, 12));
}

TEST_F(SqliteBackendTest, IdentifierThatSkippedValidationIsStillQuoted) {
  // A table name that never went through config validation stays one quoted identifier.
  absl::StatusOr<std::unique_ptr<SqliteBackend>> backend =
      SqliteBackend::Open(data_.db_path(), SqliteBackendOptions());
  ASSERT_THAT(backend, IsOk());
  Binding binding = *people().binding;
  binding.table = "people\" SET full_name = 'x' --";
  EXPECT_THAT((*backend)->Fetch(binding, "001", {}, kNoDeadline), ::testing::Not(IsOk()));
  EXPECT_EQ(data_.QueryInt("SELECT count(*) FROM people WHERE full_name = 'x'"), 0);
}

TEST_F(SqliteBackendTest, AQueryStillRunningAtTheDeadlineIsInterrupted) {
  // A view that counts to fifty million for every row: seconds of work, far past the deadline.
  data_.Exec(
      "CREATE VIEW slow_people AS SELECT people.* FROM people, (WITH RECURSIVE n(x) AS (SELECT 1 "
      "UNION ALL SELECT x + 1 FROM n WHERE x < 50000000) SELECT count(*) FROM n)");
  absl::StatusOr<std::unique_ptr<SqliteBackend>> backend =
      SqliteBackend::Open(data_.db_path(), {.max_connections = 1});
  ASSERT_THAT(backend, IsOk());
  Binding binding = *people().binding;
  binding.table = "slow_people";
  const absl::Time start = absl::Now();
  EXPECT_THAT((*backend)->Fetch(binding, "001", {}, start + absl::Milliseconds(100)),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("deadline")));
  EXPECT_THAT((*backend)->Search(binding, {}, {}, 5, "", absl::Now() + absl::Milliseconds(100)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  // The one connection is free again, and without a deadline from the last call.
  EXPECT_THAT((*backend)->Fetch(*people().binding, "001", {}, kNoDeadline), IsOk());
}

TEST_F(SqliteBackendTest, ConcurrentCallsShareASmallPool) {
  absl::StatusOr<std::unique_ptr<SqliteBackend>> backend =
      SqliteBackend::Open(data_.db_path(), {.max_connections = 2});
  ASSERT_THAT(backend, IsOk());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string key = std::to_string(100 + (t * 7 + i) % PopulationData::kPagingRows);
        absl::StatusOr<std::string> record =
            (*backend)->Fetch(*people().binding, key, {}, kNoDeadline);
        absl::StatusOr<SearchPage> page =
            (*backend)->Search(*people().binding, {{"province", "DN"}}, {}, 5, "", kNoDeadline);
        if (!record.ok() || !page.ok() || page->records.size() != 5) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace ndx::adapters
