#include "adapters/rest_backend.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "adapters/adapter_config.h"
#include "common/files.h"
#include "crypto/pki.h"
#include "fake_agency_api.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "test_data.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"

namespace ndx::adapters {
namespace {

using ::ndx::adapters::testing::FakeAgencyApi;
using ::ndx::adapters::testing::ParseRecord;
using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::ndx::testing::TempDir;
using ::ndx::testing::TestPki;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const absl::Time kNoDeadline = absl::InfiniteFuture();

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
message Listing {
  string id = 1;
  int32 page_size = 2;
}
message WithTags {
  string id = 1;
  repeated string tags = 2;
}
message WithLabels {
  string id = 1;
  map<string, string> labels = 2;
}
)";

constexpr char kToken[] = "tok-3f9a2c71e5";

class RestBackendTest : public ::testing::Test {
 protected:
  RestBackendTest() : api_(ApiOptions(AgencyServerCertificate())) {}

  static FakeAgencyApi::Options ApiOptions(const crypto::TlsFilePaths& server,
                                           const std::string& client_ca_file = "",
                                           const std::string& bearer_token = "") {
    FakeAgencyApi::Options options;
    options.server = server;
    options.client_ca_file = client_ca_file;
    options.bearer_token = bearer_token;
    return options;
  }

  void SetUp() override {
    ASSERT_THAT(WriteFileAtomically(dir_.Join("person.proto"), kProto, 0644), IsOk());
  }

  // The agency API's certificate: issued by the test platform CA (which the adapter is told to
  // trust with rest.ca_file), naming 127.0.0.1 as the TLS client checks host names.
  crypto::TlsFilePaths AgencyServerCertificate() {
    if (!agency_certificate_.has_value()) {
      agency_certificate_ = IssueServerCertificate(pki_.ca_dir(), "agency");
    }
    return *agency_certificate_;
  }
  crypto::TlsFilePaths IssueServerCertificate(const std::string& ca_dir, const std::string& name) {
    crypto::LeafOptions options;
    options.identity = crypto::SpiffeId::Node(TestPki::kTrustDomain, "mops/api");
    options.ip_addresses = {"127.0.0.1"};
    options.dns_names = {"localhost"};
    const std::string out = certs_.Join(name);
    EXPECT_THAT(crypto::IssueCertificate(ca_dir, out, "tls", options), IsOk());
    return {ca_dir + "/ca.pem", out + "/tls.pem", out + "/tls.key"};
  }

  // A DatasetBinding of `message` served by a rest backend with `rest` settings (base_url
  // included), plus `extra` binding fields.
  static std::string RestDataset(const std::string& dataset, const std::string& message,
                                 const std::string& key, const std::string& rest,
                                 const std::string& extra = "") {
    return absl::StrCat("datasets { dataset: \"", dataset,
                        "\" proto_file: \"person.proto\" message_type: \"pop.v1.", message,
                        "\" key_field: \"", key, "\" rest { ", rest, " } ", extra, " }");
  }
  // rest settings for `path` of `api`, trusting the platform CA.
  std::string Rest(const FakeAgencyApi& api, const std::string& path,
                   const std::string& more = "") const {
    return absl::StrCat("base_url: \"", api.Url(path), "\" ca_file: \"", pki_.ca_file(), "\" ",
                        more);
  }

  absl::StatusOr<LoadedAdapterConfig> Load(const std::string& datasets) const {
    v1::AdapterConfig config;
    const std::string text = absl::StrCat(
        R"(listen_address: "127.0.0.1:0" trust_domain: "ndx.test" allowed_gateways: "core"
        tls { ca_file: "ca.pem" cert_file: "tls.pem" key_file: "tls.key" } )",
        datasets);
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
    return LoadAdapterConfig(config, dir_.Join("adapter.textproto"));
  }

  // pop/people at `path` of the fake API, loaded once per test.
  const ServedDataset& People(const std::string& path = "/people", const std::string& more = "") {
    absl::StatusOr<LoadedAdapterConfig> loaded =
        Load(RestDataset("pop/people", "Person", "citizen_id", Rest(api_, path, more)));
    EXPECT_THAT(loaded, IsOk());
    if (!loaded.ok()) throw std::runtime_error("cannot load pop/people");
    configs_.push_back(std::make_unique<LoadedAdapterConfig>(*std::move(loaded)));
    return configs_.back()->datasets.at("pop/people");
  }

  static absl::StatusOr<std::string> Fetch(const ServedDataset& dataset, absl::string_view key,
                                           const std::vector<std::string>& fields = {},
                                           absl::Time deadline = kNoDeadline) {
    return dataset.backend->Fetch(*dataset.binding, key, fields, deadline);
  }
  // The fetched record as text, e.g. 'citizen_id: "001" full_name: "..."'; "" on error.
  static std::string FetchText(const ServedDataset& dataset, absl::string_view key,
                               const std::vector<std::string>& fields = {}) {
    absl::StatusOr<std::string> record = Fetch(dataset, key, fields);
    EXPECT_THAT(record, IsOk());
    return record.ok() ? ParseRecord(dataset, *record)->ShortDebugString() : "";
  }
  static absl::StatusOr<SearchPage> Search(const ServedDataset& dataset,
                                           const std::vector<FieldFilter>& filters,
                                           int page_size = 0, const std::string& token = "",
                                           const std::vector<std::string>& fields = {}) {
    return dataset.backend->Search(*dataset.binding, filters, fields, page_size, token,
                                   kNoDeadline);
  }
  // A page's records as text, in order.
  static std::vector<std::string> Texts(const ServedDataset& dataset, const SearchPage& page) {
    std::vector<std::string> texts;
    for (const std::string& record : page.records) {
      texts.push_back(ParseRecord(dataset, record)->ShortDebugString());
    }
    return texts;
  }
  static std::vector<std::string> Ids(const ServedDataset& dataset, const SearchPage& page) {
    std::vector<std::string> ids;
    for (const std::string& record : page.records) {
      ids.push_back(testing::StringField(*ParseRecord(dataset, record), "citizen_id"));
    }
    return ids;
  }

  // A bearer token file holding kToken, with `mode`.
  std::string TokenFile(int mode) const {
    const std::string path = dir_.Join("api.token");
    EXPECT_THAT(WriteFileAtomically(path, absl::StrCat(kToken, "\n"), mode), IsOk());
    return path;
  }

  TestPki pki_;
  TempDir certs_;
  TempDir dir_;
  std::optional<crypto::TlsFilePaths> agency_certificate_;
  FakeAgencyApi api_;
  std::vector<std::unique_ptr<LoadedAdapterConfig>> configs_;
};

TEST_F(RestBackendTest, FetchMapsTheJsonRecordWithTheJsonMapping) {
  // camelCase and proto names, an enum by name, int64 as a string, a Timestamp with an offset,
  // bytes in base64: Protocol Buffers' JSON mapping reads them all.
  EXPECT_EQ(
      FetchText(People(), "001"),
      "citizen_id: \"001\" full_name: \"Nguyen Van A\" birth_year: 1980 sex: MALE "
      "alive: true height_m: 1.72 registered_at { seconds: 1577934245 } photo: \"\\001\\002\" "
      "province: \"HN\" household: 7");
  // An enum by number, false and null leave fields unset.
  EXPECT_EQ(FetchText(People(), "002"),
            "citizen_id: \"002\" full_name: \"Tran Thi B\" birth_year: 1985 sex: FEMALE "
            "province: \"HN\"");
  EXPECT_THAT(api_.targets(), ElementsAre("/people/001", "/people/002"));
}

TEST_F(RestBackendTest, UnknownJsonMembersAreDropped) {
  // 001 also has "nickname" and an "address" object, which Person does not have.
  absl::StatusOr<std::string> record = Fetch(People(), "001");
  ASSERT_THAT(record, IsOk());
  std::unique_ptr<google::protobuf::Message> person = ParseRecord(People(), *record);
  EXPECT_TRUE(person->GetReflection()->GetUnknownFields(*person).empty());
  EXPECT_THAT(person->ShortDebugString(), Not(HasSubstr("Trang Tien")));
}

TEST_F(RestBackendTest, FetchNotFoundNamesTheKeyFieldNotTheKey) {
  EXPECT_THAT(
      Fetch(People(), "079201004321"),
      StatusIs(absl::StatusCode::kNotFound, AllOf(HasSubstr("pop/people"), HasSubstr("citizen_id"),
                                                  Not(HasSubstr("079201004321")))));
}

TEST_F(RestBackendTest, FetchKeepsOnlyTheRequestedFields) {
  EXPECT_EQ(FetchText(People(), "001", {"province", "full_name"}),
            "full_name: \"Nguyen Van A\" province: \"HN\"");
  EXPECT_THAT(Fetch(People(), "001", {"salary"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("salary")));
}

TEST_F(RestBackendTest, KeyIsOnePercentEncodedPathSegment) {
  EXPECT_EQ(FetchText(People(), "a/b c?&%", {"full_name"}), "full_name: \"Odd Key\"");
  EXPECT_THAT(api_.targets(), ElementsAre("/people/a%2Fb%20c%3F%26%25"));
  EXPECT_THAT(Fetch(People(), ".."), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RestBackendTest, IntegerKeyIsSentInCanonicalForm) {
  absl::StatusOr<LoadedAdapterConfig> loaded =
      Load(RestDataset("pop/households", "Household", "household_id", Rest(api_, "/households")));
  ASSERT_THAT(loaded, IsOk());
  const ServedDataset& households = loaded->datasets.at("pop/households");
  EXPECT_EQ(FetchText(households, "007"), "household_id: 7 address: \"1 Trang Tien\"");
  EXPECT_THAT(api_.targets(), ElementsAre("/households/7"));
  EXPECT_THAT(Fetch(households, "seven"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("household_id"), Not(HasSubstr("seven")))));
  EXPECT_THAT(api_.targets(), ElementsAre("/households/7"));
}

TEST_F(RestBackendTest, RecordWithoutItsKeyGetsTheRequestedKey) {
  EXPECT_EQ(FetchText(People(), "no-key"), "citizen_id: \"no-key\" full_name: \"Keyless\"");
}

TEST_F(RestBackendTest, RecordOfAnotherKeyIsRefused) {
  EXPECT_THAT(Fetch(People(), "wrong-key", {"full_name"}),
              StatusIs(absl::StatusCode::kInternal,
                       AllOf(HasSubstr("another citizen_id"), Not(HasSubstr("someone-else")),
                             Not(HasSubstr("wrong-key")))));
}

TEST_F(RestBackendTest, WrongJsonTypeIsTheOwnersErrorAndNeverQuotesTheValue) {
  EXPECT_THAT(
      Fetch(People(), "bad-type"),
      StatusIs(absl::StatusCode::kInternal,
               AllOf(HasSubstr("pop/people"), HasSubstr("\"birth_year\""), HasSubstr("int32"),
                     HasSubstr("JSON string"), Not(HasSubstr("nineteen")),
                     Not(HasSubstr("bad-type")), Not(HasSubstr("/people/")))));
  // A broken member the caller did not ask for does not fail the call.
  EXPECT_EQ(FetchText(People(), "bad-type", {"full_name"}), "full_name: \"Broken\"");
}

TEST_F(RestBackendTest, BodyThatIsNotAJsonRecordIsInternal) {
  EXPECT_THAT(Fetch(People("/garbage"), "001"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("not JSON")));
  EXPECT_THAT(Search(People("/people/001"), {}),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("without a \"records\" array")));
}

TEST_F(RestBackendTest, RedirectIsNotFollowed) {
  EXPECT_THAT(Fetch(People("/redirect"), "001"),
              StatusIs(absl::StatusCode::kInternal,
                       AllOf(HasSubstr("HTTP 302"), Not(HasSubstr("example.org")))));
}

TEST_F(RestBackendTest, SearchSendsCanonicalFiltersAndPagesThroughTheApi) {
  const ServedDataset& people = People();
  std::vector<std::string> ids;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<SearchPage> page = Search(people, {{"province", "DN"}}, 10, token);
    ASSERT_THAT(page, IsOk());
    const std::vector<std::string> page_ids = Ids(people, *page);
    EXPECT_LE(page_ids.size(), 10u);
    ids.insert(ids.end(), page_ids.begin(), page_ids.end());
    token = page->next_page_token;
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(ids.size(), 25u);
  EXPECT_EQ(ids.front(), "p100");
  EXPECT_EQ(ids.back(), "p124");
  EXPECT_THAT(api_.targets(), ElementsAre("/people?province=DN&page_size=10",
                                          "/people?province=DN&page_size=10&page_token=p109",
                                          "/people?province=DN&page_size=10&page_token=p119"));

  // "1" for a bool is sent as true; a selection keeps only those fields.
  absl::StatusOr<SearchPage> alive = Search(
      people, {{"province", "DN"}, {"alive", "1"}, {"birth_year", "2001"}}, 0, "", {"citizen_id"});
  ASSERT_THAT(alive, IsOk());
  EXPECT_THAT(Texts(people, *alive), ElementsAre("citizen_id: \"p104\"", "citizen_id: \"p110\"",
                                                 "citizen_id: \"p116\"", "citizen_id: \"p122\""));
  EXPECT_THAT(api_.targets().back(),
              EndsWith("/people?province=DN&alive=true&birth_year=2001&page_size=100"));
}

TEST_F(RestBackendTest, SearchPageTokenIsBoundToItsFilters) {
  const ServedDataset& people = People();
  absl::StatusOr<SearchPage> first = Search(people, {{"province", "DN"}}, 10);
  ASSERT_THAT(first, IsOk());
  ASSERT_FALSE(first->next_page_token.empty());
  // The agency's own token travels inside ndx's, never in clear.
  EXPECT_THAT(first->next_page_token, Not(HasSubstr("p109")));
  EXPECT_THAT(Search(people, {{"province", "HN"}}, 10, first->next_page_token),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  EXPECT_THAT(Search(people, {{"province", "DN"}}, 10, "made-up"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
}

TEST_F(RestBackendTest, InvalidFilterIsRefusedBeforeAnyRequest) {
  const ServedDataset& people = People();
  EXPECT_THAT(
      Search(people, {{"birth_year", "nineteen eighty"}}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("birth_year"), HasSubstr("int32"), Not(HasSubstr("nineteen")))));
  EXPECT_THAT(Search(people, {{"registered_at", "yesterday"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("registered_at")));
  EXPECT_THAT(Search(people, {{"salary", "1"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("salary")));
  EXPECT_THAT(Search(people, {}, -1), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(api_.targets(), IsEmpty());
}

TEST_F(RestBackendTest, SearchDropsRecordsThatDoNotMatchAFilter) {
  // /ignoring answers 001, 002, p100 and p101 whatever the filters.
  const ServedDataset& people = People("", "search_path: \"/ignoring\"");
  absl::StatusOr<SearchPage> page = Search(people, {{"province", "HN"}}, 0, "", {"full_name"});
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(Texts(people, *page),
              ElementsAre("full_name: \"Nguyen Van A\"", "full_name: \"Tran Thi B\""));
  EXPECT_THAT(api_.targets(), ElementsAre("/ignoring?province=HN&page_size=100"));
  // More records than the page holds breaks the contract.
  EXPECT_THAT(Search(people, {{"province", "HN"}}, 1),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("for page_size 1")));
}

TEST_F(RestBackendTest, MissingQueryFormIsTheOwnersConfiguration) {
  EXPECT_THAT(
      Search(People("/people", "search_path: \"/nowhere\""), {{"province", "DN"}}),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               AllOf(HasSubstr("HTTP 404"), HasSubstr("rest.search_path"), Not(HasSubstr("DN")))));
}

TEST_F(RestBackendTest, SearchRecordOfTheWrongTypeIsInternal) {
  EXPECT_THAT(Search(People(), {{"full_name", "Broken"}}),
              StatusIs(absl::StatusCode::kInternal,
                       AllOf(HasSubstr("\"birth_year\""), Not(HasSubstr("nineteen")))));
}

TEST_F(RestBackendTest, DeadlineStopsASlowApi) {
  const ServedDataset& slow = People("/slow");
  EXPECT_THAT(Fetch(slow, "001", {}, absl::Now() + absl::Milliseconds(200)),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       AllOf(HasSubstr("deadline"), Not(HasSubstr("001")))));
  EXPECT_THAT(
      slow.backend->Search(*slow.binding, {}, {}, 0, "", absl::Now() + absl::Milliseconds(200)),
      StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(Fetch(slow, "001", {}, absl::Now() - absl::Seconds(1)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  // The configured timeout applies when the call has no deadline.
  const ServedDataset& limited = People("/slow", "timeout_ms: 200");
  EXPECT_THAT(Fetch(limited, "001"),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("timeout_ms")));
  api_.ReleaseSlow();
}

TEST_F(RestBackendTest, ApiDownIsUnavailable) {
  const ServedDataset& people = People();
  api_.Stop();
  EXPECT_THAT(Fetch(people, "001"), StatusIs(absl::StatusCode::kUnavailable,
                                             AllOf(HasSubstr("pop/people"), HasSubstr("127.0.0.1"),
                                                   Not(HasSubstr("/people/001")))));
  EXPECT_THAT(Search(people, {{"province", "DN"}}), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(RestBackendTest, KeptAliveConnectionClosedByARestartedApiIsReopened) {
  const ServedDataset& people = People();
  ASSERT_THAT(Fetch(people, "001"), IsOk());
  // The pooled connection is now closed by the API: the next call retries on a new one.
  api_.Restart();
  EXPECT_THAT(Fetch(people, "002"), IsOk());
  EXPECT_THAT(api_.targets(), Contains("/people/002"));
}

struct HttpStatusCase {
  int http_status;
  absl::StatusCode code;
};

class RestHttpStatusTest : public RestBackendTest,
                           public ::testing::WithParamInterface<HttpStatusCase> {};

TEST_P(RestHttpStatusTest, MapsToTheCodeOfWhoseProblemItIs) {
  const ServedDataset& people = People(absl::StrCat("/status/", GetParam().http_status));
  EXPECT_THAT(
      Fetch(people, "079201004321"),
      StatusIs(GetParam().code, AllOf(HasSubstr(absl::StrCat("HTTP ", GetParam().http_status)),
                                      Not(HasSubstr("079201004321")))));
  EXPECT_THAT(Search(people, {{"province", "DN"}}), StatusIs(GetParam().code));
}

INSTANTIATE_TEST_SUITE_P(
    Statuses, RestHttpStatusTest,
    ::testing::Values(HttpStatusCase{400, absl::StatusCode::kInvalidArgument},
                      HttpStatusCase{401, absl::StatusCode::kFailedPrecondition},
                      HttpStatusCase{403, absl::StatusCode::kFailedPrecondition},
                      HttpStatusCase{429, absl::StatusCode::kResourceExhausted},
                      HttpStatusCase{500, absl::StatusCode::kUnavailable},
                      HttpStatusCase{503, absl::StatusCode::kUnavailable},
                      HttpStatusCase{418, absl::StatusCode::kInternal}),
    [](const ::testing::TestParamInfo<HttpStatusCase>& info) {
      return absl::StrCat("Http", info.param.http_status);
    });

TEST_F(RestBackendTest, BearerTokenIsSentAndNeverShown) {
  FakeAgencyApi api(ApiOptions(AgencyServerCertificate(), "", kToken));
  absl::StatusOr<LoadedAdapterConfig> with_token = Load(RestDataset(
      "pop/people", "Person", "citizen_id",
      Rest(api, "/people", absl::StrCat("bearer_token_file: \"", TokenFile(0600), "\""))));
  ASSERT_THAT(with_token, IsOk());
  EXPECT_EQ(FetchText(with_token->datasets.at("pop/people"), "002", {"full_name"}),
            "full_name: \"Tran Thi B\"");
  EXPECT_THAT(api.authorizations(), ElementsAre(absl::StrCat("Bearer ", kToken)));

  absl::StatusOr<LoadedAdapterConfig> without =
      Load(RestDataset("pop/people", "Person", "citizen_id", Rest(api, "/people")));
  ASSERT_THAT(without, IsOk());
  EXPECT_THAT(Fetch(without->datasets.at("pop/people"), "002"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("refused the adapter's credentials"), HasSubstr("HTTP 401"),
                             Not(HasSubstr(kToken)))));
}

TEST_F(RestBackendTest, TokenFileOpenToGroupOrOthersIsRefusedAtLoad) {
  for (int mode : {0640, 0604}) {
    absl::StatusOr<LoadedAdapterConfig> loaded = Load(RestDataset(
        "pop/people", "Person", "citizen_id",
        Rest(api_, "/people", absl::StrCat("bearer_token_file: \"", TokenFile(mode), "\""))));
    EXPECT_THAT(loaded, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 AllOf(HasSubstr("chmod 600"), HasSubstr("api.token"),
                                       Not(HasSubstr(kToken)))))
        << std::oct << mode;
  }
  ASSERT_THAT(WriteFileAtomically(dir_.Join("two.token"), "first line\nsecond\n", 0600), IsOk());
  EXPECT_THAT(
      Load(RestDataset("pop/people", "Person", "citizen_id",
                       Rest(api_, "/people",
                            absl::StrCat("bearer_token_file: \"", dir_.Join("two.token"), "\"")))),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("single line"), Not(HasSubstr("first")))));
}

TEST_F(RestBackendTest, ApiRequiringAClientCertificateGetsOne) {
  FakeAgencyApi api(ApiOptions(AgencyServerCertificate(), pki_.ca_file()));
  const crypto::TlsFilePaths client = pki_.Node("pop/registry");
  absl::StatusOr<LoadedAdapterConfig> with_certificate =
      Load(RestDataset("pop/people", "Person", "citizen_id",
                       Rest(api, "/people",
                            absl::StrCat("cert_file: \"", client.cert_file, "\" key_file: \"",
                                         client.key_file, "\""))));
  ASSERT_THAT(with_certificate, IsOk());
  EXPECT_EQ(FetchText(with_certificate->datasets.at("pop/people"), "002", {"province"}),
            "province: \"HN\"");

  absl::StatusOr<LoadedAdapterConfig> without =
      Load(RestDataset("pop/people", "Person", "citizen_id", Rest(api, "/people")));
  ASSERT_THAT(without, IsOk());
  EXPECT_THAT(Fetch(without->datasets.at("pop/people"), "002"),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(RestBackendTest, ServerCertificateOfAnotherCaIsRefused) {
  const std::string other_ca = certs_.Join("other-ca");
  crypto::CaOptions ca_options;
  ca_options.trust_domain = TestPki::kTrustDomain;
  ASSERT_THAT(crypto::CreateCa(other_ca, ca_options), IsOk());
  FakeAgencyApi impostor(ApiOptions(IssueServerCertificate(other_ca, "impostor")));
  absl::StatusOr<LoadedAdapterConfig> loaded =
      Load(RestDataset("pop/people", "Person", "citizen_id", Rest(impostor, "/people")));
  ASSERT_THAT(loaded, IsOk());
  EXPECT_THAT(Fetch(loaded->datasets.at("pop/people"), "001"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("rest.ca_file")));
  EXPECT_THAT(impostor.targets(), IsEmpty());
}

TEST_F(RestBackendTest, PlaintextBaseUrlIsRefusedAtLoad) {
  EXPECT_THAT(
      Load(RestDataset("pop/people", "Person", "citizen_id",
                       absl::StrCat("base_url: \"http://127.0.0.1:", api_.port(),
                                    "/people\" ca_file: \"", pki_.ca_file(), "\""))),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("datasets[0]"), HasSubstr("http://"), HasSubstr("plaintext"))));
}

TEST_F(RestBackendTest, BadSettingsAreRefusedAtLoad) {
  struct Case {
    std::string rest;
    std::string extra;
    std::string message;
  };
  const std::string ca = absl::StrCat(" ca_file: \"", pki_.ca_file(), "\"");
  const std::string key = pki_.Node("pop/registry").key_file;
  for (const Case& c : std::vector<Case>{
           {"base_url: \"https://127.0.0.1/people\"", "", "ca_file is empty"},
           {absl::StrCat("base_url: \"ftp://127.0.0.1/people\"", ca), "", "https://"},
           {absl::StrCat("base_url: \"https://user:pw@127.0.0.1/people\"", ca), "", "password"},
           {absl::StrCat("base_url: \"https://127.0.0.1/people?x=1\"", ca), "", "query"},
           {absl::StrCat("base_url: \"https://127.0.0.1:99999/people\"", ca), "", "port"},
           {absl::StrCat("base_url: \"https://127.0.0.1/people\" ca_file: \"", key, "\""), "",
            "no PEM certificate"},
           {absl::StrCat("base_url: \"https://127.0.0.1/people\" key_file: \"", key, "\"", ca), "",
            "go together"},
           {absl::StrCat("base_url: \"https://127.0.0.1/people\" search_path: \"search\"", ca), "",
            "search_path"},
           {absl::StrCat("base_url: \"https://127.0.0.1/people\"", ca), "table: \"people\"",
            "table does not apply"},
           {absl::StrCat("base_url: \"https://127.0.0.1/people\"", ca),
            "columns { key: \"province\" value: \"province_code\" }", "columns does not apply"},
       }) {
    EXPECT_THAT(Load(RestDataset("pop/people", "Person", "citizen_id", c.rest, c.extra)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.rest << " " << c.extra;
  }
}

TEST_F(RestBackendTest, ClientCertificateThatDoesNotLoadIsRefusedAtLoad) {
  const crypto::TlsFilePaths mine = pki_.Node("pop/registry");
  const crypto::TlsFilePaths other = pki_.Node("pop/other");
  EXPECT_THAT(Load(RestDataset("pop/people", "Person", "citizen_id",
                               Rest(api_, "/people",
                                    absl::StrCat("cert_file: \"", mine.cert_file, "\" key_file: \"",
                                                 other.key_file, "\"")))),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("rest.cert_file")));
  EXPECT_THAT(Load(RestDataset("pop/people", "Person", "citizen_id",
                               Rest(api_, "/people",
                                    absl::StrCat("cert_file: \"", mine.key_file, "\" key_file: \"",
                                                 mine.key_file, "\"")))),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("rest.cert_file")));
}

TEST_F(RestBackendTest, SchemaTheContractCannotServeIsRefusedAtLoad) {
  EXPECT_THAT(Load(RestDataset("pop/listings", "Listing", "id", Rest(api_, "/listings"))),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("\"page_size\""), HasSubstr("query parameter"))));
  EXPECT_THAT(Load(RestDataset("pop/labelled", "WithLabels", "id", Rest(api_, "/labelled"))),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("\"labels\""), HasSubstr("is a map"))));
}

// A repeated field is a JSON array in the API's records, as the JSON mapping has it; it cannot be
// filtered, and a filter on it is refused before any request.
TEST_F(RestBackendTest, RepeatedFieldsAreJsonArrays) {
  absl::StatusOr<LoadedAdapterConfig> loaded =
      Load(RestDataset("pop/tagged", "WithTags", "id", Rest(api_, "/tagged")));
  ASSERT_THAT(loaded, IsOk());
  const ServedDataset& tagged = loaded->datasets.at("pop/tagged");
  EXPECT_EQ(FetchText(tagged, "t1"), "id: \"t1\" tags: \"b\" tags: \"a\" tags: \"b\" tags: \"\"");
  EXPECT_EQ(FetchText(tagged, "t1", {"tags"}), "tags: \"b\" tags: \"a\" tags: \"b\" tags: \"\"");
  EXPECT_EQ(FetchText(tagged, "t2"), "id: \"t2\"");
  absl::StatusOr<SearchPage> page = Search(tagged, {}, 2);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(
      Texts(tagged, *page),
      ElementsAre("id: \"t1\" tags: \"b\" tags: \"a\" tags: \"b\" tags: \"\"", "id: \"t2\""));
  page = Search(tagged, {}, 2, page->next_page_token);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(Texts(tagged, *page), ElementsAre("id: \"t3\""));
  const size_t requests = api_.targets().size();
  EXPECT_THAT(Search(tagged, {{"tags", "secret-tag-0790"}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("filter: field \"tags\" is repeated"),
                             Not(HasSubstr("secret-tag-0790")))));
  EXPECT_EQ(api_.targets().size(), requests);
}

TEST_F(RestBackendTest, DatasetsOfOneBaseUrlShareItsBackendAndSettings) {
  const std::string rest = Rest(api_, "/people");
  absl::StatusOr<LoadedAdapterConfig> shared =
      Load(absl::StrCat(RestDataset("pop/people", "Person", "citizen_id", rest),
                        RestDataset("pop/people-copy", "Person", "citizen_id", rest)));
  ASSERT_THAT(shared, IsOk());
  EXPECT_EQ(shared->datasets.at("pop/people").backend,
            shared->datasets.at("pop/people-copy").backend);
  EXPECT_THAT(Load(absl::StrCat(RestDataset("pop/people", "Person", "citizen_id", rest),
                                RestDataset("pop/people-copy", "Person", "citizen_id",
                                            absl::StrCat(rest, " max_connections: 2")))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("other settings")));
}

TEST_F(RestBackendTest, OversizedBodyIsRefused) {
  const ServedDataset& people = People();
  RestBackendOptions options = static_cast<const RestBackend&>(*people.backend).options();
  options.base_url = api_.Url("/big");
  options.max_response_bytes = 16 << 10;
  absl::StatusOr<std::unique_ptr<RestBackend>> backend = RestBackend::Open(options);
  ASSERT_THAT(backend, IsOk());
  ASSERT_THAT((*backend)->CheckBinding(*people.binding), IsOk());
  EXPECT_THAT((*backend)->Fetch(*people.binding, "001", {}, kNoDeadline),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("larger than 16384")));
}

TEST_F(RestBackendTest, UncheckedBindingIsRefused) {
  const ServedDataset& people = People();
  RestBackendOptions options = static_cast<const RestBackend&>(*people.backend).options();
  absl::StatusOr<std::unique_ptr<RestBackend>> backend = RestBackend::Open(options);
  ASSERT_THAT(backend, IsOk());
  EXPECT_THAT((*backend)->Fetch(*people.binding, "001", {}, kNoDeadline),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not checked")));
}

TEST_F(RestBackendTest, ConcurrentCallsShareABoundedPool) {
  const ServedDataset& people = People("/people", "max_connections: 2");
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string key = absl::StrCat("p", 100 + (t * 10 + i) % 25);
        absl::StatusOr<std::string> record = Fetch(people, key, {"citizen_id"});
        if (record.ok() &&
            testing::StringField(*ParseRecord(people, *record), "citizen_id") == key) {
          ++ok;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 60);
}

}  // namespace
}  // namespace ndx::adapters
