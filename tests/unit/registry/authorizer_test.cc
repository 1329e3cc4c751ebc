#include "registry/authorizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "registry_test_util.h"

namespace ndx::registry::testing {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class AuthorizerTest : public RegistryFixture {
 protected:
  absl::StatusOr<Decision> Check(absl::string_view caller, std::vector<std::string> fields,
                                 absl::string_view purpose,
                                 std::vector<std::string> filter_fields = {},
                                 absl::string_view dataset = kDataset) {
    fields_ = std::move(fields);
    filter_fields_ = std::move(filter_fields);
    snapshot_ = registry_->snapshot();
    ReadRequest request;
    request.dataset = dataset;
    request.operation = operation_;
    request.fields = fields_;
    request.purpose = purpose;
    request.filter_fields = filter_fields_;
    return Authorize(*snapshot_, caller, request, clock_.Now());
  }

  void Revoke(const std::string& grant_id, const std::string& by = kOwner) {
    v1::RevokeGrantRequest request;
    request.set_grant_id(grant_id);
    request.set_reason("no longer needed");
    ASSERT_THAT(admin_->RevokeGrant(by, request, recorder_), IsOk());
  }

  std::vector<std::string> fields_;
  std::vector<std::string> filter_fields_;
  v1::Operation operation_ = v1::OPERATION_READ;
  std::shared_ptr<const Snapshot> snapshot_;
};

TEST_F(AuthorizerTest, AllowsCoveredReadInFieldNumberOrder) {
  std::string id = Grant({"province", "birth_id", "child_name"}, {"health-insurance"});
  auto decision = Check(kConsumer, {"province", "birth_id", "province"}, "health-insurance");
  ASSERT_THAT(decision, IsOk());
  EXPECT_EQ(decision->grant->id(), id);
  EXPECT_EQ(decision->dataset->dataset.id(), kDataset);
  EXPECT_EQ(decision->owner->id(), kOwner);
  EXPECT_THAT(decision->fields, ElementsAre("birth_id", "province"));
  EXPECT_THAT(decision->field_numbers, ElementsAre(1, 6));
}

TEST_F(AuthorizerTest, EmptyFieldsMeansEveryGrantedField) {
  Grant({"province", "mother_id", "birth_id"}, {"health-insurance"});
  auto decision = Check(kConsumer, {}, "health-insurance");
  ASSERT_THAT(decision, IsOk());
  EXPECT_THAT(decision->fields, ElementsAre("birth_id", "mother_id", "province"));
  EXPECT_THAT(decision->field_numbers, ElementsAre(1, 3, 6));
}

TEST_F(AuthorizerTest, EmptyFieldsSkipsGrantedFieldsTheSchemaNoLongerHas) {
  v1::Grant grant;
  grant.set_id("g-0000000000000001");
  grant.set_consumer(kConsumer);
  grant.set_dataset(kDataset);
  grant.add_fields("birth_id");
  grant.add_fields("dropped_field");
  grant.add_purposes("statistics");
  grant.mutable_expires_at()->set_seconds(absl::ToUnixSeconds(kStart + absl::Hours(1)));
  grant.set_state(v1::GRANT_STATE_APPROVED);
  ASSERT_THAT(registry_->PutGrant(grant), IsOk());
  auto decision = Check(kConsumer, {}, "statistics");
  ASSERT_THAT(decision, IsOk());
  EXPECT_THAT(decision->fields, ElementsAre("birth_id"));

  grant.clear_fields();
  grant.add_fields("dropped_field");
  ASSERT_THAT(registry_->PutGrant(grant), IsOk());
  EXPECT_THAT(Check(kConsumer, {}, "statistics"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("none of the fields of grant g-0000000000000001 (dropped_field) "
                                 "is in the current schema of dataset civil/births")));
}

TEST_F(AuthorizerTest, FilterFieldsMustBeCoveredButAreNotReturned) {
  std::string id = Grant({"birth_id", "child_name"}, {"health-insurance"});
  auto decision = Check(kConsumer, {"birth_id"}, "health-insurance", {"child_name"});
  ASSERT_THAT(decision, IsOk());
  EXPECT_THAT(decision->fields, ElementsAre("birth_id"));

  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance", {"mother_id"}),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "field mother_id is not covered by grant " + id));
  // With no requested fields, the filter still has to be covered.
  EXPECT_THAT(Check(kConsumer, {}, "health-insurance", {"mother_id"}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("mother_id")));
}

TEST_F(AuthorizerTest, FieldsNotCoveredAreNamed) {
  std::string id = Grant({"birth_id"}, {"health-insurance"});
  EXPECT_THAT(Check(kConsumer, {"birth_id", "mother_id", "province"}, "health-insurance"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "fields mother_id, province are not covered by grant " + id));
}

TEST_F(AuthorizerTest, PurposeNotCoveredListsTheGrantsPurposes) {
  std::string id = Grant({"birth_id"}, {"health-insurance", "statistics"});
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "tax-audit"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "purpose tax-audit is not covered by grant " + id +
                           ", which allows: health-insurance, statistics"));
}

TEST_F(AuthorizerTest, OperationMustBeAllowedAndTheRefusalNamesIt) {
  std::string id = Grant({"birth_id"}, {"statistics"});
  operation_ = v1::OPERATION_QUERY;
  EXPECT_THAT(Check(kConsumer, {}, "statistics", {"birth_id"}), IsOk());
  operation_ = v1::OPERATION_EXPORT;
  EXPECT_THAT(Check(kConsumer, {}, "statistics"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("operation export is not allowed by grant " + id),
                             HasSubstr("allows: read, query, subscribe"),
                             HasSubstr("a Query without filters is an export"))));
  std::string exporting = Grant({"birth_id"}, {"statistics"}, absl::Hours(24), /*approve=*/true,
                                {v1::OPERATION_EXPORT});
  auto decision = Check(kConsumer, {}, "statistics");
  ASSERT_THAT(decision, IsOk());
  EXPECT_EQ(decision->grant->id(), exporting);
  operation_ = v1::OPERATION_READ;
  EXPECT_THAT(Check(kConsumer, {}, "statistics"), IsOk());
}

TEST_F(AuthorizerTest, GrantWithoutReadRefusesAGet) {
  std::string id = Grant({"birth_id"}, {"statistics"}, absl::Hours(24), /*approve=*/true,
                         {v1::OPERATION_SUBSCRIBE});
  EXPECT_THAT(Check(kConsumer, {}, "statistics"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("operation read is not allowed by grant " + id +
                                 ", which allows: subscribe")));
}

TEST_F(AuthorizerTest, NoGrantSaysHowToRequestOne) {
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "node moh/insurance has no grant on dataset civil/births; request one with "
                       "`ndxctl grant request`"));
}

TEST_F(AuthorizerTest, AnotherConsumersGrantDoesNotCount) {
  Grant({"birth_id"}, {"health-insurance"});
  EXPECT_THAT(Check(kOther, {"birth_id"}, "health-insurance"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("node tax/core has no grant on dataset civil/births")));
}

TEST_F(AuthorizerTest, RequestedOnlyIsAwaitingTheOwner) {
  std::string id = Grant({"birth_id"}, {"health-insurance"}, absl::Hours(24), /*approve=*/false);
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "grant " + id + " is awaiting approval by civil/registry"));
}

TEST_F(AuthorizerTest, RevokedSaysWhen) {
  std::string id = Grant({"birth_id"}, {"health-insurance"});
  clock_.Advance(absl::Hours(1));
  Revoke(id);
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "grant " + id + " was revoked at 2026-01-01T01:00:00Z"));
}

TEST_F(AuthorizerTest, ExpiresExactlyAtExpiresAt) {
  std::string id = Grant({"birth_id"}, {"health-insurance"}, absl::Hours(2));
  clock_.Set(kStart + absl::Hours(2) - absl::Nanoseconds(1));
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance"), IsOk());
  clock_.Set(kStart + absl::Hours(2));
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "grant " + id + " expired at 2026-01-01T02:00:00Z"));
}

TEST_F(AuthorizerTest, PicksTheGrantThatCoversAmongSeveral) {
  std::string revoked = Grant({"birth_id", "mother_id"}, {"health-insurance"});
  Revoke(revoked);
  Grant({"birth_id"}, {"statistics"});
  std::string good = Grant({"birth_id", "mother_id"}, {"health-insurance"});
  auto decision = Check(kConsumer, {"mother_id"}, "health-insurance");
  ASSERT_THAT(decision, IsOk());
  EXPECT_EQ(decision->grant->id(), good);
}

TEST_F(AuthorizerTest, ReportsTheClosestGrant) {
  // Revoked and requested: the pending request is what the consumer waits for.
  std::string revoked = Grant({"birth_id"}, {"health-insurance"});
  Revoke(revoked);
  std::string requested =
      Grant({"birth_id"}, {"health-insurance"}, absl::Hours(24), /*approve=*/false);
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("grant " + requested + " is awaiting approval")));
  // An approved grant for another purpose comes closer than a pending one.
  std::string other_purpose = Grant({"birth_id"}, {"statistics"});
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("not covered by grant " + other_purpose)));
  // One with the purpose but too few fields comes closer still.
  std::string few_fields = Grant({"child_name"}, {"health-insurance"});
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "field birth_id is not covered by grant " + few_fields));
}

TEST_F(AuthorizerTest, ExpiredRatherThanRevoked) {
  std::string revoked = Grant({"birth_id"}, {"health-insurance"});
  Revoke(revoked);
  std::string expiring = Grant({"birth_id"}, {"health-insurance"}, absl::Hours(1));
  clock_.Advance(absl::Hours(3));
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "grant " + expiring + " expired at 2026-01-01T01:00:00Z"));
}

TEST_F(AuthorizerTest, UnknownFieldsAreNamedWithTheValidOnes) {
  Grant({"birth_id"}, {"health-insurance"});
  EXPECT_THAT(Check(kConsumer, {"birth_id", "bogus", "other"}, "health-insurance"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "dataset civil/births has no field bogus, other; its fields are: "
                       "birth_id, child_name, mother_id, registered_at, notes, province"));
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance", {"bogus"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no field bogus")));
}

TEST_F(AuthorizerTest, UnknownDatasetIsNotFound) {
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance", {}, "civil/deaths"),
              StatusIs(absl::StatusCode::kNotFound, "dataset civil/deaths is not registered"));
}

TEST_F(AuthorizerTest, MalformedDatasetOrPurposeIsInvalid) {
  EXPECT_THAT(Check(kConsumer, {}, "health-insurance", {}, "Civil/Births"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agency/name")));
  EXPECT_THAT(Check(kConsumer, {}, "Health Insurance"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("purpose")));
  EXPECT_THAT(Check(kConsumer, {}, ""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AuthorizerTest, ChecksComeInTheDocumentedOrder) {
  // Malformed dataset before malformed purpose before caller.
  EXPECT_THAT(Check("nobody/x", {"bogus"}, "Bad", {}, "BAD"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset id")));
  EXPECT_THAT(Check("nobody/x", {"bogus"}, "Bad", {}, "civil/deaths"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("purpose")));
  // Caller before dataset, dataset before fields.
  EXPECT_THAT(Check("nobody/x", {"bogus"}, "statistics", {}, "civil/deaths"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Check(kConsumer, {"bogus"}, "statistics", {}, "civil/deaths"),
              StatusIs(absl::StatusCode::kNotFound));
  // Unknown fields before the grant.
  EXPECT_THAT(Check(kConsumer, {"bogus"}, "statistics"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AuthorizerTest, UnregisteredOrSuspendedCallerIsDenied) {
  EXPECT_THAT(Check("nobody/x", {"birth_id"}, "health-insurance"),
              StatusIs(absl::StatusCode::kPermissionDenied, "node nobody/x is not registered"));
  Grant({"birth_id"}, {"health-insurance"});
  RegisterNode(kConsumer, "", v1::NODE_STATE_SUSPENDED);
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance"),
              StatusIs(absl::StatusCode::kPermissionDenied, "node moh/insurance is suspended"));
}

TEST_F(AuthorizerTest, OwnerWithoutAdapterIsUnavailable) {
  Grant({"birth_id"}, {"health-insurance"});
  RegisterNode(kOwner, "");
  EXPECT_THAT(
      Check(kConsumer, {"birth_id"}, "health-insurance"),
      StatusIs(absl::StatusCode::kUnavailable,
               "owner node civil/registry of dataset civil/births has no adapter endpoint"));
  RegisterNode(kOwner, "127.0.0.1:7443", v1::NODE_STATE_SUSPENDED);
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("is not active")));
}

TEST_F(AuthorizerTest, MissingOwnerIsUnavailable) {
  // Only the raw store can hold a dataset whose owner is not registered.
  v1::Dataset dataset = registry_->snapshot()->FindDataset(kDataset)->dataset;
  dataset.set_owner("civil/gone");
  ASSERT_THAT(registry_->PutDataset(dataset), IsOk());
  Grant({"birth_id"}, {"health-insurance"}, absl::Hours(24), /*approve=*/false);
  v1::Grant grant = *registry_->snapshot()->Grants().front();
  grant.set_state(v1::GRANT_STATE_APPROVED);
  ASSERT_THAT(registry_->PutGrant(grant), IsOk());
  EXPECT_THAT(Check(kConsumer, {"birth_id"}, "health-insurance"),
              StatusIs(absl::StatusCode::kUnavailable,
                       "owner node civil/gone of dataset civil/births is not registered"));
}

TEST(ActiveCallerTest, NodeInAnUnknownStateIsNotActive) {
  ndx::testing::TempDir dir;
  auto registry = OpenRocksDbRegistry(dir.Join("registry"));
  ASSERT_THAT(registry, IsOk());
  v1::Node node;
  node.set_id("a/b");
  ASSERT_THAT((*registry)->PutNode(node), IsOk());
  EXPECT_THAT(ActiveCaller(*(*registry)->snapshot(), "a/b"),
              StatusIs(absl::StatusCode::kPermissionDenied, "node a/b is not active"));
  node.set_state(v1::NODE_STATE_ACTIVE);
  ASSERT_THAT((*registry)->PutNode(node), IsOk());
  auto active = ActiveCaller(*(*registry)->snapshot(), "a/b");
  ASSERT_THAT(active, IsOk());
  EXPECT_EQ((*active)->id(), "a/b");
}

}  // namespace
}  // namespace ndx::registry::testing
