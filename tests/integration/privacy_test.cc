// Privacy at the edges, end to end through real gateway and adapter processes: a consumer learns
// of a citizen only what its grant names, the subject of every read is recorded, and no citizen
// identifier is kept in clear outside the owner's database.

#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "common/files.h"
#include "integration/federation.h"
#include "integration/resident_record.h"
#include "ndx/v1/audit.grpc.pb.h"
#include "ndx/v1/events.grpc.pb.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr char kPurpose[] = "health-insurance-enrolment";
// Every citizen identifier the tests use: the four residents of the population register and one
// that it does not hold.
const char* const kCitizenIds[] = {"001090000001", "001090000002", "079090000003", "001090000004",
                                   "001099999999"};

class PrivacyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
    ASSERT_THAT(federation_.StartGateway(), IsOk());
    ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
    ASSERT_THAT(federation_.RegisterAuditor(), IsOk());
  }

  grpc::Status Get(const std::string& caller, const std::string& key,
                   v1::GetResponse* response = nullptr) {
    v1::GetRequest request;
    request.set_dataset(kResidents);
    request.set_key(key);
    request.set_purpose(kPurpose);
    v1::GetResponse ignored;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    return federation_.ExchangeAs(caller)->Get(&context, request,
                                               response != nullptr ? response : &ignored);
  }

  // A Query of mops/residents for kPurpose, with `filters` as field-value pairs.
  static v1::QueryRequest ResidentsWhere(
      const std::vector<std::pair<std::string, std::string>>& filters, int page_size = 10) {
    v1::QueryRequest request;
    request.set_dataset(kResidents);
    request.set_purpose(kPurpose);
    request.set_page_size(page_size);
    for (const auto& [field, value] : filters) {
      v1::Filter* filter = request.add_filters();
      filter->set_field(field);
      filter->set_value(value);
    }
    return request;
  }

  grpc::Status Query(const std::string& caller, const v1::QueryRequest& request,
                     v1::QueryResponse* response) {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    return federation_.ExchangeAs(caller)->Query(&context, request, response);
  }

  // Every audit entry matching `request` (all pages), newest first as the auditor sees them.
  std::vector<v1::AuditEntry> AuditEntries(v1::QueryEntriesRequest request) {
    auto audit = v1::Audit::NewStub(federation_.ChannelAs(kAuditorNode));
    std::vector<v1::AuditEntry> entries;
    do {
      grpc::ClientContext context;
      SetTimeout(&context, absl::Seconds(10));
      v1::QueryEntriesResponse response;
      grpc::Status status = audit->QueryEntries(&context, request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      entries.insert(entries.end(), response.entries().begin(), response.entries().end());
      request.set_page_token(response.next_page_token());
    } while (!request.page_token().empty());
    return entries;
  }

  std::vector<v1::AuditEntry> EntriesAbout(const std::string& subject) {
    v1::QueryEntriesRequest request;
    request.set_subject(subject);
    return AuditEntries(request);
  }

  // The entries of `operation`, oldest first.
  std::vector<v1::AuditEntry> EntriesOf(const std::string& operation) {
    std::vector<v1::AuditEntry> found;
    for (v1::AuditEntry& entry : AuditEntries(v1::QueryEntriesRequest())) {
      if (entry.operation() == operation) found.push_back(std::move(entry));
    }
    std::reverse(found.begin(), found.end());
    return found;
  }

  Federation federation_;
};

// "operation caller decision code" of each entry, for readable failures.
std::vector<std::string> Summaries(const std::vector<v1::AuditEntry>& entries) {
  std::vector<std::string> summaries;
  for (const v1::AuditEntry& entry : entries) {
    summaries.push_back(absl::StrCat(entry.operation(), " ", entry.caller(), " ",
                                     v1::AuditEntry::Decision_Name(entry.decision()), " ",
                                     entry.code()));
  }
  return summaries;
}

TEST_F(PrivacyTest, TheSubjectOfAReadIsRecordedWhenTheGrantDoesNotCoverIt) {
  ASSERT_THAT(federation_.Grant(kInsuranceNode, kResidents, {"full_name", "birth_date", "province"},
                                {kPurpose}),
              IsOk());

  v1::GetResponse got;
  grpc::Status status = Get(kInsuranceNode, "001090000001", &got);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(ResidentFields(got.record()),
              UnorderedElementsAre("full_name", "birth_date", "province"));
  EXPECT_THAT(got.fields(), ElementsAre("full_name", "birth_date", "province"));

  // A Query answer shows no key either, and records the subject of each record returned.
  v1::QueryResponse found;
  status = Query(kInsuranceNode, ResidentsWhere({{"province", "hanoi"}}), &found);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(found.records_size(), 3);
  for (const google::protobuf::Any& record : found.records()) {
    EXPECT_THAT(ResidentFields(record),
                UnorderedElementsAre("full_name", "birth_date", "province"));
  }

  EXPECT_THAT(
      Summaries(EntriesAbout("001090000001")),
      ElementsAre("Query moh/insurance DECISION_ALLOW OK", "Get moh/insurance DECISION_ALLOW OK"));
  EXPECT_THAT(Summaries(EntriesAbout("001090000004")),
              ElementsAre("Query moh/insurance DECISION_ALLOW OK"));
  EXPECT_THAT(EntriesAbout("079090000003"), IsEmpty());
  std::vector<v1::AuditEntry> queries = EntriesOf("Query");
  ASSERT_EQ(queries.size(), 1u);
  EXPECT_EQ(queries[0].record_count(), 3u);
  EXPECT_EQ(queries[0].subject_pseudonyms_size(), 3);
  // What the consumer received, not what the gateway asked the adapter for.
  EXPECT_THAT(queries[0].fields(), ElementsAre("full_name", "birth_date", "province"));
}

TEST_F(PrivacyTest, RefusedAndMissingReadsRecordTheSubjectTheyName) {
  ASSERT_THAT(
      federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
      IsOk());

  // moj/civil-status has no grant: refused, and the refusal is found under the citizen.
  EXPECT_EQ(Get(kCivilNode, "001090000002").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::QueryResponse ignored;
  EXPECT_EQ(
      Query(kCivilNode, ResidentsWhere({{"citizen_id", "001090000004"}}), &ignored).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(Summaries(EntriesAbout("001090000002")),
              ElementsAre("Get moj/civil-status DECISION_DENY PERMISSION_DENIED"));
  EXPECT_THAT(Summaries(EntriesAbout("001090000004")),
              ElementsAre("Query moj/civil-status DECISION_DENY PERMISSION_DENIED"));

  // A key the owner does not hold: a fixed text that does not repeat it, recorded under it.
  grpc::Status status = Get(kInsuranceNode, "001099999999");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "dataset mops/residents has no record with this citizen_id");
  std::vector<v1::AuditEntry> missing = EntriesAbout("001099999999");
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].code(), "NOT_FOUND");
  EXPECT_EQ(missing[0].reason(), "dataset mops/residents has no record with this citizen_id");
  EXPECT_THAT(federation_.DecisionLog(), Not(HasSubstr("001099999999")));
}

TEST_F(PrivacyTest, PageTokensAreSealedAndBoundToTheirQuery) {
  absl::StatusOr<v1::Grant> insurance =
      federation_.Grant(kInsuranceNode, kResidents, {"full_name", "province"}, {kPurpose});
  ASSERT_THAT(insurance, IsOk());
  ASSERT_THAT(federation_.Grant(kCivilNode, kResidents, {"full_name", "province"}, {kPurpose}),
              IsOk());
  const v1::QueryRequest first = ResidentsWhere({{"province", "hanoi"}}, /*page_size=*/1);

  v1::QueryResponse page;
  grpc::Status status = Query(kInsuranceNode, first, &page);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::string token = page.next_page_token();
  ASSERT_FALSE(token.empty());
  std::string sealed;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &sealed));
  for (const char* id : kCitizenIds) {
    EXPECT_THAT(token, Not(HasSubstr(id)));
    EXPECT_THAT(sealed, Not(HasSubstr(id)));
  }
  EXPECT_THAT(sealed, Not(HasSubstr("hanoi")));

  // The token pages on for the query it was issued for.
  std::vector<std::string> names;
  v1::QueryRequest next = first;
  for (v1::QueryResponse answer = page;;) {
    std::map<std::string, std::string> values;
    ASSERT_EQ(answer.records_size(), 1);
    ResidentFields(answer.records(0), &values);
    names.push_back(values["full_name"]);
    if (answer.next_page_token().empty()) break;
    next.set_page_token(answer.next_page_token());
    status = Query(kInsuranceNode, next, &answer);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_THAT(names, ElementsAre("Nguyen Van An", "Tran Thi Binh", "Pham Thi Dung"));

  auto refused = [&](const std::string& caller, v1::QueryRequest request) {
    v1::QueryResponse answer;
    return Query(caller, request, &answer);
  };
  v1::QueryRequest same = first;
  same.set_page_token(token);
  v1::QueryRequest other_filters = ResidentsWhere({{"province", "hcmc"}}, 1);
  other_filters.set_page_token(token);
  v1::QueryRequest other_fields = same;
  other_fields.add_fields("full_name");
  v1::QueryRequest forged = first;
  forged.set_page_token("t0");
  v1::QueryRequest altered = same;
  altered.mutable_page_token()->back() = token.back() == 'A' ? 'B' : 'A';
  for (const auto& [caller, request] :
       std::vector<std::pair<std::string, v1::QueryRequest>>{{kCivilNode, same},
                                                             {kInsuranceNode, other_filters},
                                                             {kInsuranceNode, other_fields},
                                                             {kInsuranceNode, forged},
                                                             {kInsuranceNode, altered}}) {
    status = refused(caller, request);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << caller << " " << request.ShortDebugString();
    EXPECT_THAT(status.error_message(), HasSubstr("page_token is not valid"));
  }

  // Once its grant is revoked the grant is the reason; under a new grant the token is not valid.
  ASSERT_THAT(federation_.RevokeGrant(kPopulationNode, insurance->id(), "test"), IsOk());
  EXPECT_EQ(refused(kInsuranceNode, same).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_THAT(federation_.Grant(kInsuranceNode, kResidents, {"full_name", "province"}, {kPurpose}),
              IsOk());
  EXPECT_EQ(refused(kInsuranceNode, same).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(PrivacyTest, ReadingTheWholeDatasetNeedsTheExportOperation) {
  ASSERT_THAT(
      federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
      IsOk());
  v1::QueryResponse answer;
  grpc::Status status = Query(kInsuranceNode, ResidentsWhere({}), &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("operation export is not allowed by grant"));

  ASSERT_THAT(federation_.Grant(kCivilNode, kResidents, {"citizen_id", "full_name"}, {kPurpose},
                                absl::Hours(24), /*approve=*/true, {v1::OPERATION_EXPORT}),
              IsOk());
  status = Query(kCivilNode, ResidentsWhere({}), &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answer.records_size(), 4);
  // An export grant is not a query grant.
  status = Query(kCivilNode, ResidentsWhere({{"full_name", "Le Van Cuong"}}), &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("operation query is not allowed"));
}

TEST_F(PrivacyTest, RegistryChangesAreRecordedWithTheirTarget) {
  absl::StatusOr<v1::Grant> grant =
      federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose});
  ASSERT_THAT(grant, IsOk());

  std::vector<v1::AuditEntry> registered = EntriesOf("Registry.RegisterNode");
  ASSERT_GE(registered.size(), 1u);
  EXPECT_EQ(registered[0].caller(), kOperatorNode);
  EXPECT_EQ(registered[0].change().node_id(), kPopulationNode);
  EXPECT_FALSE(registered[0].change().node_existed());
  EXPECT_EQ(registered[0].change().node_state_after(), v1::NODE_STATE_ACTIVE);

  std::vector<v1::AuditEntry> datasets = EntriesOf("Registry.RegisterDataset");
  ASSERT_EQ(datasets.size(), 1u);
  EXPECT_EQ(datasets[0].dataset(), kResidents);
  EXPECT_EQ(datasets[0].change().schema_version_before(), 0);
  EXPECT_EQ(datasets[0].change().schema_version_after(), 1);
  EXPECT_EQ(datasets[0].change().subject_field(), "citizen_id");

  std::vector<v1::AuditEntry> requested = EntriesOf("Registry.RequestGrant");
  ASSERT_EQ(requested.size(), 1u);
  EXPECT_EQ(requested[0].caller(), kInsuranceNode);
  EXPECT_EQ(requested[0].grant_id(), grant->id());
  EXPECT_EQ(requested[0].dataset(), kResidents);
  EXPECT_THAT(requested[0].change().fields(), ElementsAre("citizen_id", "full_name"));
  EXPECT_THAT(requested[0].change().purposes(), ElementsAre(kPurpose));

  std::vector<v1::AuditEntry> approved = EntriesOf("Registry.ApproveGrant");
  ASSERT_EQ(approved.size(), 1u);
  EXPECT_EQ(approved[0].caller(), kPopulationNode);
  EXPECT_EQ(approved[0].grant_id(), grant->id());
  EXPECT_EQ(approved[0].dataset(), kResidents);
  EXPECT_EQ(approved[0].change().consumer(), kInsuranceNode);
  EXPECT_EQ(approved[0].change().grant_state_before(), v1::GRANT_STATE_REQUESTED);
  EXPECT_EQ(approved[0].change().grant_state_after(), v1::GRANT_STATE_APPROVED);

  // Auditors find a dataset's grant changes with the dataset filter.
  v1::QueryEntriesRequest by_dataset;
  by_dataset.set_dataset(kResidents);
  EXPECT_THAT(Summaries(AuditEntries(by_dataset)),
              ElementsAre("Registry.ApproveGrant mops/population DECISION_ALLOW OK",
                          "Registry.RequestGrant moh/insurance DECISION_ALLOW OK",
                          "Registry.RegisterDataset mops/population DECISION_ALLOW OK"));
}

// Every file the platform wrote, but the owner's own database, after allowed, refused, missing
// and filtered reads, event publications and an auditor's subject query: no citizen identifier.
TEST_F(PrivacyTest, NoCitizenIdentifierIsKeptInClearOutsideTheOwnersDatabase) {
  ASSERT_THAT(federation_.Grant(kInsuranceNode, kResidents, {"full_name"}, {kPurpose}), IsOk());
  EXPECT_TRUE(Get(kInsuranceNode, "001090000001").ok());
  EXPECT_EQ(Get(kCivilNode, "001090000002").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_THAT(federation_.Grant(kCivilNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
              IsOk());
  EXPECT_EQ(Get(kCivilNode, "001099999999").error_code(), grpc::StatusCode::NOT_FOUND);
  v1::QueryResponse answer;
  EXPECT_TRUE(Query(kCivilNode, ResidentsWhere({{"citizen_id", "079090000003"}}), &answer).ok());
  EXPECT_TRUE(Query(kCivilNode, ResidentsWhere({{"citizen_id", "001099999999"}}), &answer).ok());
  EXPECT_EQ(answer.records_size(), 0);
  auto events = v1::Events::NewStub(federation_.ChannelAs(kPopulationNode));
  for (const char* id : {"001090000001", "001090000004"}) {
    v1::PublishRequest request;
    request.set_dataset(kResidents);
    request.set_key(id);
    request.set_type("residence.registered");
    v1::PublishResponse published;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    grpc::Status status = events->Publish(&context, request, &published);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_THAT(Summaries(EntriesAbout("001090000004")),
              ElementsAre("Events.Publish mops/population DECISION_ALLOW OK"));

  // Stopped, so that everything they buffer is on disk.
  EXPECT_EQ(federation_.StopGateway(), 0);
  federation_.StopPopulationAdapter();

  int scanned = 0;
  for (const auto& file : std::filesystem::recursive_directory_iterator(federation_.dir().path())) {
    if (!file.is_regular_file()) continue;
    std::string name = file.path().filename().string();
    if (absl::StartsWith(name, "population.db")) continue;  // the owner's database
    absl::StatusOr<std::string> content = ReadFile(file.path().string());
    ASSERT_THAT(content, IsOk());
    ++scanned;
    for (const char* id : kCitizenIds) {
      EXPECT_THAT(*content, Not(HasSubstr(id))) << file.path();
    }
  }
  // The registry and audit log's files, the event store, the decision log, both processes' logs.
  EXPECT_GT(scanned, 20);
}

}  // namespace
}  // namespace ndx::testing
