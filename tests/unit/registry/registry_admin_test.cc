#include "registry/registry_admin.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/proto_time.h"
#include "google/protobuf/util/message_differencer.h"
#include "registry_test_util.h"

namespace ndx::registry::testing {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

constexpr absl::StatusCode kDenied = absl::StatusCode::kPermissionDenied;
constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

class RegistryAdminTest : public RegistryFixture {
 protected:
  v1::RegisterNodeRequest NodeRequest(const std::string& id) {
    v1::RegisterNodeRequest request;
    request.mutable_node()->set_id(id);
    request.mutable_node()->set_display_name("Land registry");
    request.mutable_node()->set_kind(v1::NODE_KIND_PROVINCE);
    request.mutable_node()->set_adapter_endpoint("adapter.land.gov.vn:7443");
    return request;
  }

  absl::StatusOr<v1::Grant> Approve(absl::string_view caller, const std::string& id) {
    v1::ApproveGrantRequest request;
    request.set_grant_id(id);
    return admin_->ApproveGrant(caller, request, recorder_);
  }
  absl::StatusOr<v1::Grant> Revoke(absl::string_view caller, const std::string& id) {
    v1::RevokeGrantRequest request;
    request.set_grant_id(id);
    request.set_reason("contract ended");
    return admin_->RevokeGrant(caller, request, recorder_);
  }
  absl::StatusOr<v1::Grant> Get(absl::string_view caller, const std::string& id) {
    v1::GetGrantRequest request;
    request.set_grant_id(id);
    return admin_->GetGrant(caller, request);
  }
  std::vector<std::string> ListedGrants(absl::string_view caller,
                                        const v1::ListGrantsRequest& request = {}) {
    std::vector<std::string> ids;
    auto response = admin_->ListGrants(caller, request);
    EXPECT_THAT(response, IsOk());
    if (response.ok()) {
      for (const v1::Grant& grant : response->grants()) ids.push_back(grant.id());
    }
    return ids;
  }
};

TEST_F(RegistryAdminTest, EveryCallNeedsARegisteredActiveCaller) {
  std::string grant = Grant({"birth_id"}, {"statistics"});
  for (const char* caller : {"nobody/x", "moh/insurance"}) {
    if (std::string(caller) == kConsumer) RegisterNode(kConsumer, "", v1::NODE_STATE_SUSPENDED);
    auto denied = StatusIs(kDenied, HasSubstr(caller));
    EXPECT_THAT(admin_->RegisterNode(caller, NodeRequest("land/core"), recorder_), denied);
    v1::GetNodeRequest get_node;
    get_node.set_id(kOwner);
    EXPECT_THAT(admin_->GetNode(caller, get_node), denied);
    EXPECT_THAT(admin_->ListNodes(caller, {}), denied);
    v1::RegisterDatasetRequest dataset = BirthDatasetRequest();
    dataset.set_id("moh/cards");
    EXPECT_THAT(admin_->RegisterDataset(caller, dataset, recorder_), denied);
    v1::GetDatasetRequest get_dataset;
    get_dataset.set_id(kDataset);
    EXPECT_THAT(admin_->GetDataset(caller, get_dataset), denied);
    EXPECT_THAT(admin_->ListDatasets(caller, {}), denied);
    EXPECT_THAT(
        admin_->RequestGrant(
            caller, GrantRequest({"birth_id"}, {"statistics"}, clock_.Now() + absl::Hours(1)),
            recorder_),
        denied);
    EXPECT_THAT(Approve(caller, grant), denied);
    EXPECT_THAT(Revoke(caller, grant), denied);
    EXPECT_THAT(Get(caller, grant), denied);
    EXPECT_THAT(admin_->ListGrants(caller, {}), denied);
  }
  EXPECT_THAT(Get(kOther, grant), StatusIs(kDenied, HasSubstr("may not see")));
  EXPECT_THAT(admin_->ListNodes(kOther, {}), IsOk());
}

TEST_F(RegistryAdminTest, RegisterNodeIsForOperators) {
  EXPECT_THAT(admin_->RegisterNode(kOwner, NodeRequest("land/core"), recorder_),
              StatusIs(kDenied,
                       "only an operator may register nodes, and node civil/registry "
                       "has no operator role"));
  auto node = admin_->RegisterNode(kOperator, NodeRequest("land/core"), recorder_);
  ASSERT_THAT(node, IsOk());
  EXPECT_EQ(node->state(), v1::NODE_STATE_ACTIVE);
  EXPECT_EQ(FromProtoTime(node->created_at()), kStart);
  EXPECT_EQ(FromProtoTime(node->updated_at()), kStart);
  v1::GetNodeRequest get;
  get.set_id("land/core");
  auto stored = admin_->GetNode(kOther, get);
  ASSERT_THAT(stored, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*stored, *node));
}

TEST_F(RegistryAdminTest, ReRegisteringANodeKeepsCreatedAt) {
  ASSERT_THAT(admin_->RegisterNode(kOperator, NodeRequest("land/core"), recorder_), IsOk());
  clock_.Advance(absl::Hours(5));
  v1::RegisterNodeRequest request = NodeRequest("land/core");
  request.mutable_node()->set_state(v1::NODE_STATE_SUSPENDED);
  request.mutable_node()->add_roles(v1::ROLE_AUDITOR);
  request.mutable_node()->add_roles(v1::ROLE_AUDITOR);
  *request.mutable_node()->mutable_created_at() = ToProtoTime(kStart + absl::Hours(99));
  auto node = admin_->RegisterNode(kOperator, request, recorder_);
  ASSERT_THAT(node, IsOk());
  EXPECT_EQ(FromProtoTime(node->created_at()), kStart);
  EXPECT_EQ(FromProtoTime(node->updated_at()), kStart + absl::Hours(5));
  EXPECT_EQ(node->state(), v1::NODE_STATE_SUSPENDED);
  EXPECT_THAT(node->roles(), ElementsAre(v1::ROLE_AUDITOR));
}

TEST_F(RegistryAdminTest, RegisterNodeValidation) {
  auto bad = [this](const v1::RegisterNodeRequest& request) {
    return admin_->RegisterNode(kOperator, request, recorder_);
  };
  EXPECT_THAT(bad(NodeRequest("Land/Core")), StatusIs(kInvalid, HasSubstr("agency/system")));
  EXPECT_THAT(bad(NodeRequest("land")), StatusIs(kInvalid, HasSubstr("agency/system")));
  v1::RegisterNodeRequest no_kind = NodeRequest("land/core");
  no_kind.mutable_node()->clear_kind();
  EXPECT_THAT(bad(no_kind), StatusIs(kInvalid, HasSubstr("kind must be set")));
  v1::RegisterNodeRequest bad_role = NodeRequest("land/core");
  bad_role.mutable_node()->add_roles(v1::ROLE_UNSPECIFIED);
  EXPECT_THAT(bad(bad_role), StatusIs(kInvalid, HasSubstr("ROLE_OPERATOR and ROLE_AUDITOR")));
  bad_role.mutable_node()->set_roles(0, static_cast<v1::Role>(17));
  EXPECT_THAT(bad(bad_role), StatusIs(kInvalid, HasSubstr("role 17 is unknown")));
  v1::RegisterNodeRequest bad_state = NodeRequest("land/core");
  bad_state.mutable_node()->set_state(static_cast<v1::NodeState>(9));
  EXPECT_THAT(bad(bad_state), StatusIs(kInvalid, HasSubstr("state 9 is unknown")));

  for (const char* endpoint :
       {"adapter.land.gov.vn", "host:", ":7443", "host:0", "host:65536", "host:12a", "ho st:80",
        "host:+80", "[zz]:80", "[]:80", "host:99999999999999999999"}) {
    v1::RegisterNodeRequest request = NodeRequest("land/core");
    request.mutable_node()->set_adapter_endpoint(endpoint);
    EXPECT_THAT(bad(request), StatusIs(kInvalid, HasSubstr("expected host:port"))) << endpoint;
  }
  for (const char* endpoint : {"", "a:1", "10.0.0.5:7443", "[::1]:65535", "Adapter-1.gov.vn:80"}) {
    v1::RegisterNodeRequest request = NodeRequest("land/core");
    request.mutable_node()->set_adapter_endpoint(endpoint);
    EXPECT_THAT(bad(request), IsOk()) << endpoint;
  }
  // Nothing invalid was stored.
  EXPECT_EQ(registry_->snapshot()->FindNode("Land/Core"), nullptr);
}

TEST_F(RegistryAdminTest, GetAndListNodes) {
  v1::GetNodeRequest get;
  get.set_id("land/core");
  EXPECT_THAT(admin_->GetNode(kConsumer, get),
              StatusIs(absl::StatusCode::kNotFound, "node land/core is not registered"));
  get.set_id("bad");
  EXPECT_THAT(admin_->GetNode(kConsumer, get), StatusIs(kInvalid));
  auto list = admin_->ListNodes(kConsumer, {});
  ASSERT_THAT(list, IsOk());
  std::vector<std::string> ids;
  for (const v1::Node& node : list->nodes()) ids.push_back(node.id());
  EXPECT_THAT(ids, ElementsAre(kOwner, kConsumer, kOperator, kOther));
}

TEST_F(RegistryAdminTest, RegisterDatasetBuildsTheFieldList) {
  auto stored = admin_->GetDataset(kConsumer, [] {
    v1::GetDatasetRequest request;
    request.set_id(kDataset);
    return request;
  }());
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(stored->owner(), kOwner);
  EXPECT_EQ(stored->message_type(), "civil.v1.Birth");
  EXPECT_EQ(stored->key_field(), "birth_id");
  EXPECT_EQ(stored->subject_field(), "mother_id");
  EXPECT_EQ(stored->schema_version(), 1);
  EXPECT_EQ(stored->description(), "Births registered by civil status offices");
  EXPECT_EQ(FromProtoTime(stored->created_at()), kStart);
  EXPECT_EQ(stored->schema().file_size(), 2);
  std::vector<std::string> fields;
  for (const v1::FieldInfo& field : stored->fields()) {
    fields.push_back(absl::StrCat(field.name(), " ", field.number(), " ", field.type(), " ",
                                  v1::FieldClass_Name(field.field_class())));
  }
  EXPECT_THAT(fields, ElementsAre("birth_id 1 string FIELD_CLASS_PERSONAL",
                                  "child_name 2 string FIELD_CLASS_PERSONAL",
                                  "mother_id 3 string FIELD_CLASS_PERSONAL",
                                  "registered_at 4 google.protobuf.Timestamp FIELD_CLASS_PERSONAL",
                                  "notes 5 repeated string FIELD_CLASS_PERSONAL",
                                  "province 6 string FIELD_CLASS_OPEN"));
}

TEST_F(RegistryAdminTest, MapFieldTypeIsSpelledOut) {
  v1::RegisterDatasetRequest request = BirthDatasetRequest();
  request.set_id("civil/codes");
  request.set_proto_source(
      "syntax = \"proto3\";\npackage c;\nenum Sex { SEX_UNSPECIFIED = 0; }\n"
      "message M { string id = 1; map<string, int64> counts = 2; Sex sex = 3; }\n");
  request.set_message_type("c.M");
  request.set_key_field("id");
  request.set_subject_field("sex");
  request.clear_field_classes();
  auto dataset = admin_->RegisterDataset(kOwner, request, recorder_);
  ASSERT_THAT(dataset, IsOk());
  EXPECT_EQ(dataset->fields(1).type(), "map<string, int64>");
  EXPECT_EQ(dataset->fields(2).type(), "c.Sex");
}

TEST_F(RegistryAdminTest, RegisterDatasetAuthorization) {
  v1::RegisterDatasetRequest request = BirthDatasetRequest();
  EXPECT_THAT(admin_->RegisterDataset(kConsumer, request, recorder_),
              StatusIs(kDenied,
                       "node moh/insurance may register only datasets of its own agency "
                       "(moh/<name>), not civil/births"));
  // Not even an operator registers another agency's dataset.
  EXPECT_THAT(admin_->RegisterDataset(kOperator, request, recorder_), StatusIs(kDenied));
  RegisterNode("civil/archive", "127.0.0.1:7444");
  EXPECT_THAT(admin_->RegisterDataset("civil/archive", request, recorder_),
              StatusIs(kDenied,
                       "dataset civil/births is owned by node civil/registry; only its "
                       "owner may re-register it"));
  request.set_id("civil/archived-births");
  auto archived = admin_->RegisterDataset("civil/archive", request, recorder_);
  ASSERT_THAT(archived, IsOk());
  EXPECT_EQ(archived->owner(), "civil/archive");
}

TEST_F(RegistryAdminTest, RegisterDatasetValidation) {
  auto with = [this](auto change) {
    v1::RegisterDatasetRequest request = BirthDatasetRequest();
    request.set_id("civil/deaths");
    change(request);
    return admin_->RegisterDataset(kOwner, request, recorder_);
  };
  using Request = v1::RegisterDatasetRequest;
  EXPECT_THAT(with([](Request& r) { r.set_id("civil"); }),
              StatusIs(kInvalid, HasSubstr("agency/name")));
  EXPECT_THAT(with([](Request& r) { r.set_proto_source("syntax = \"proto3\";\nmessage A {\n"); }),
              StatusIs(kInvalid, HasSubstr("birth.proto:3:")));
  EXPECT_THAT(with([](Request& r) {
                r.set_proto_source("syntax = \"proto3\";\nmessage A {\n  Unknown x = 1;\n}\n");
              }),
              StatusIs(kInvalid, HasSubstr("birth.proto:3:")));
  EXPECT_THAT(with([](Request& r) {
                r.set_proto_source("syntax = \"proto3\";\nimport \"civil/common.proto\";\n");
              }),
              StatusIs(kInvalid, HasSubstr("civil/common.proto")));
  EXPECT_THAT(with([](Request& r) { r.clear_message_type(); }),
              StatusIs(kInvalid, HasSubstr("message_type is required")));
  EXPECT_THAT(with([](Request& r) { r.set_message_type("Birth"); }),
              StatusIs(kInvalid,
                       "message type \"Birth\" is not defined in birth.proto; it "
                       "defines: civil.v1.Birth, civil.v1.Death (give the name with "
                       "its package)"));
  EXPECT_THAT(with([](Request& r) { r.clear_key_field(); }),
              StatusIs(kInvalid, HasSubstr("key_field is required")));
  EXPECT_THAT(with([](Request& r) { r.set_key_field("id"); }),
              StatusIs(kInvalid,
                       "key_field \"id\" is not a field of civil.v1.Birth; its fields "
                       "are: birth_id, child_name, mother_id, registered_at, notes, "
                       "province"));
  EXPECT_THAT(with([](Request& r) { r.set_key_field("registered_at"); }),
              StatusIs(kInvalid, HasSubstr("is a google.protobuf.Timestamp field; it must be a "
                                           "single scalar field")));
  EXPECT_THAT(with([](Request& r) { r.set_subject_field("notes"); }),
              StatusIs(kInvalid, HasSubstr("subject_field \"notes\" is a repeated string field")));
  EXPECT_THAT(with([](Request& r) { r.set_subject_field("citizen_id"); }),
              StatusIs(kInvalid, HasSubstr("subject_field \"citizen_id\" is not a field")));
  EXPECT_THAT(
      with([](Request& r) { (*r.mutable_field_classes())["bogus"] = v1::FIELD_CLASS_OPEN; }),
      StatusIs(kInvalid, HasSubstr("field_classes names \"bogus\"")));
  EXPECT_THAT(
      with([](Request& r) { (*r.mutable_field_classes())["notes"] = v1::FIELD_CLASS_UNSPECIFIED; }),
      StatusIs(kInvalid, HasSubstr("field_classes[\"notes\"] must be")));
  EXPECT_EQ(registry_->snapshot()->FindDataset("civil/deaths"), nullptr);
  // Without subject_field and field_classes, it registers.
  EXPECT_THAT(with([](Request& r) {
                r.clear_subject_field();
                r.clear_field_classes();
              }),
              IsOk());
}

TEST_F(RegistryAdminTest, SchemaVersionCountsSchemaChanges) {
  clock_.Advance(absl::Hours(1));
  v1::RegisterDatasetRequest request = BirthDatasetRequest();
  request.set_description("Same schema, new words");
  auto same = admin_->RegisterDataset(kOwner, request, recorder_);
  ASSERT_THAT(same, IsOk());
  EXPECT_EQ(same->schema_version(), 1);
  EXPECT_EQ(same->description(), "Same schema, new words");
  EXPECT_EQ(FromProtoTime(same->created_at()), kStart);
  EXPECT_EQ(FromProtoTime(same->updated_at()), kStart + absl::Hours(1));

  request.set_proto_source(kBirthProtoV2);
  auto changed = admin_->RegisterDataset(kOwner, request, recorder_);
  ASSERT_THAT(changed, IsOk());
  EXPECT_EQ(changed->schema_version(), 2);
  EXPECT_EQ(changed->fields_size(), 7);
  EXPECT_EQ(registry_->snapshot()->FindDataset(kDataset)->field_numbers.at("father_id"), 7);
  EXPECT_THAT(admin_->RegisterDataset(kOwner, request, recorder_), IsOk());
  EXPECT_EQ(registry_->snapshot()->FindDataset(kDataset)->dataset.schema_version(), 2);

  request.set_message_type("civil.v1.Death");
  request.set_key_field("death_id");
  request.clear_subject_field();
  request.clear_field_classes();
  auto other_type = admin_->RegisterDataset(kOwner, request, recorder_);
  ASSERT_THAT(other_type, IsOk());
  EXPECT_EQ(other_type->schema_version(), 3);
}

TEST_F(RegistryAdminTest, ListDatasetsFiltersByOwner) {
  RegisterNode("moh/cards", "127.0.0.1:7445");
  v1::RegisterDatasetRequest request = BirthDatasetRequest();
  request.set_id("moh/card-holders");
  ASSERT_THAT(admin_->RegisterDataset("moh/cards", request, recorder_), IsOk());
  auto all = admin_->ListDatasets(kConsumer, {});
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->datasets_size(), 2);
  EXPECT_EQ(all->datasets(0).id(), kDataset);
  EXPECT_EQ(all->datasets(1).id(), "moh/card-holders");
  v1::ListDatasetsRequest by_owner;
  by_owner.set_owner("moh/cards");
  auto some = admin_->ListDatasets(kConsumer, by_owner);
  ASSERT_THAT(some, IsOk());
  ASSERT_EQ(some->datasets_size(), 1);
  EXPECT_EQ(some->datasets(0).owner(), "moh/cards");
  v1::GetDatasetRequest get;
  get.set_id("moh/nothing");
  EXPECT_THAT(admin_->GetDataset(kConsumer, get),
              StatusIs(absl::StatusCode::kNotFound, "dataset moh/nothing is not registered"));
  get.set_id("nothing");
  EXPECT_THAT(admin_->GetDataset(kConsumer, get), StatusIs(kInvalid));
}

TEST_F(RegistryAdminTest, RequestGrant) {
  v1::RequestGrantRequest request =
      GrantRequest({"province", "birth_id", "province"}, {"statistics", "health-insurance"},
                   kStart + absl::Hours(48));
  auto grant = admin_->RequestGrant(kConsumer, request, recorder_);
  ASSERT_THAT(grant, IsOk());
  EXPECT_THAT(grant->id(), MatchesRegex("g-[0-9a-f]{16}"));
  EXPECT_EQ(grant->consumer(), kConsumer);
  EXPECT_EQ(grant->dataset(), kDataset);
  EXPECT_THAT(grant->fields(), ElementsAre("province", "birth_id"));
  EXPECT_THAT(grant->purposes(), ElementsAre("statistics", "health-insurance"));
  EXPECT_EQ(grant->state(), v1::GRANT_STATE_REQUESTED);
  EXPECT_EQ(grant->justification(), "Decree 104/2022");
  EXPECT_EQ(FromProtoTime(grant->requested_at()), kStart);
  EXPECT_EQ(FromProtoTime(grant->expires_at()), kStart + absl::Hours(48));
  EXPECT_TRUE(MessageDifferencer::Equals(*registry_->snapshot()->FindGrant(grant->id()), *grant));
  auto second = admin_->RequestGrant(kConsumer, request, recorder_);
  ASSERT_THAT(second, IsOk());
  EXPECT_NE(second->id(), grant->id());
}

TEST_F(RegistryAdminTest, RequestGrantValidation) {
  auto with = [this](auto change) {
    v1::RequestGrantRequest request =
        GrantRequest({"birth_id"}, {"statistics"}, kStart + absl::Hours(1));
    change(request);
    return admin_->RequestGrant(kConsumer, request, recorder_);
  };
  using Request = v1::RequestGrantRequest;
  EXPECT_THAT(with([](Request& r) { r.set_dataset("births"); }),
              StatusIs(kInvalid, HasSubstr("agency/name")));
  EXPECT_THAT(with([](Request& r) { r.set_dataset("civil/deaths"); }),
              StatusIs(absl::StatusCode::kNotFound, "dataset civil/deaths is not registered"));
  EXPECT_THAT(with([](Request& r) { r.clear_fields(); }),
              StatusIs(kInvalid, HasSubstr("fields is empty")));
  EXPECT_THAT(with([](Request& r) {
                r.add_fields("bogus");
                r.add_fields("other");
              }),
              StatusIs(kInvalid,
                       "dataset civil/births has no field bogus, other; its fields are: "
                       "birth_id, child_name, mother_id, registered_at, notes, province"));
  EXPECT_THAT(with([](Request& r) { r.clear_purposes(); }),
              StatusIs(kInvalid, HasSubstr("purposes is empty")));
  EXPECT_THAT(with([](Request& r) { r.add_purposes("Tax Audit"); }),
              StatusIs(kInvalid, HasSubstr("purpose \"Tax Audit\" is malformed")));
  EXPECT_THAT(with([](Request& r) { r.clear_expires_at(); }),
              StatusIs(kInvalid, HasSubstr("expires_at is required")));
  EXPECT_THAT(with([](Request& r) { *r.mutable_expires_at() = ToProtoTime(kStart); }),
              StatusIs(kInvalid,
                       "expires_at 2026-01-01T00:00:00Z is not in the future (now is "
                       "2026-01-01T00:00:00Z)"));
  EXPECT_THAT(
      with([](Request& r) { *r.mutable_expires_at() = ToProtoTime(kStart - absl::Hours(1)); }),
      StatusIs(kInvalid, HasSubstr("not in the future")));
  EXPECT_TRUE(registry_->snapshot()->Grants().empty());
}

TEST_F(RegistryAdminTest, OnlyTheOwnerApproves) {
  std::string id = Grant({"birth_id"}, {"statistics"}, absl::Hours(24), /*approve=*/false);
  const std::string expected =
      "only the owner of dataset civil/births (node civil/registry) may approve grant " + id;
  EXPECT_THAT(Approve(kConsumer, id), StatusIs(kDenied, expected));
  EXPECT_THAT(Approve(kOperator, id), StatusIs(kDenied, expected));
  EXPECT_THAT(Approve(kOther, id), StatusIs(kDenied, expected));
  clock_.Advance(absl::Minutes(10));
  auto approved = Approve(kOwner, id);
  ASSERT_THAT(approved, IsOk());
  EXPECT_EQ(approved->state(), v1::GRANT_STATE_APPROVED);
  EXPECT_EQ(approved->approved_by(), kOwner);
  EXPECT_EQ(FromProtoTime(approved->approved_at()), kStart + absl::Minutes(10));
  EXPECT_EQ(registry_->snapshot()->FindGrant(id)->state(), v1::GRANT_STATE_APPROVED);
}

TEST_F(RegistryAdminTest, ApproveNeedsARequestedUnexpiredGrant) {
  std::string approved = Grant({"birth_id"}, {"statistics"});
  EXPECT_THAT(Approve(kOwner, approved), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                  "grant " + approved + " is already approved"));
  ASSERT_THAT(Revoke(kOwner, approved), IsOk());
  EXPECT_THAT(Approve(kOwner, approved),
              StatusIs(absl::StatusCode::kFailedPrecondition, "grant " + approved + " is revoked"));
  std::string expiring = Grant({"birth_id"}, {"statistics"}, absl::Hours(1), /*approve=*/false);
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(Approve(kOwner, expiring), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                  HasSubstr("expired at 2026-01-01T01:00:00Z")));
  EXPECT_THAT(Approve(kOwner, "g-0123456789abcdef"),
              StatusIs(absl::StatusCode::kNotFound, "grant g-0123456789abcdef does not exist"));
  EXPECT_THAT(Approve(kOwner, ""), StatusIs(kInvalid, "grant_id is required"));
}

TEST_F(RegistryAdminTest, OwnerOrOperatorRevokes) {
  std::string approved = Grant({"birth_id"}, {"statistics"});
  std::string requested = Grant({"birth_id"}, {"statistics"}, absl::Hours(24), false);
  EXPECT_THAT(Revoke(kConsumer, approved),
              StatusIs(kDenied,
                       "only the owner of dataset civil/births (node civil/registry) or "
                       "an operator may revoke grant " +
                           approved));
  EXPECT_THAT(Revoke(kOther, approved), StatusIs(kDenied));
  clock_.Advance(absl::Hours(2));
  auto revoked = Revoke(kOwner, approved);
  ASSERT_THAT(revoked, IsOk());
  EXPECT_EQ(revoked->state(), v1::GRANT_STATE_REVOKED);
  EXPECT_EQ(revoked->revoked_by(), kOwner);
  EXPECT_EQ(revoked->revoke_reason(), "contract ended");
  EXPECT_EQ(FromProtoTime(revoked->revoked_at()), kStart + absl::Hours(2));
  EXPECT_EQ(revoked->approved_by(), kOwner);  // the history stays
  auto by_operator = Revoke(kOperator, requested);
  ASSERT_THAT(by_operator, IsOk());
  EXPECT_EQ(by_operator->revoked_by(), kOperator);
  EXPECT_THAT(Revoke(kOperator, approved), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                    "grant " + approved + " is already revoked"));
  EXPECT_THAT(Revoke(kOwner, "g-missing"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(RegistryAdminTest, GrantVisibility) {
  std::string mine = Grant({"birth_id"}, {"statistics"});
  // A grant of another consumer on another owner's dataset.
  RegisterNode("tax/data", "127.0.0.1:7446");
  v1::RegisterDatasetRequest dataset = BirthDatasetRequest();
  dataset.set_id("tax/returns");
  ASSERT_THAT(admin_->RegisterDataset("tax/data", dataset, recorder_), IsOk());
  v1::RequestGrantRequest request =
      GrantRequest({"birth_id"}, {"statistics"}, clock_.Now() + absl::Hours(1));
  request.set_dataset("tax/returns");
  auto theirs = admin_->RequestGrant(kOther, request, recorder_);
  ASSERT_THAT(theirs, IsOk());

  EXPECT_THAT(Get(kConsumer, mine), IsOk());
  EXPECT_THAT(Get(kOwner, mine), IsOk());
  EXPECT_THAT(Get(kOperator, mine), IsOk());
  EXPECT_THAT(Get(kOther, mine),
              StatusIs(kDenied, "node tax/core may not see grant " + mine +
                                    ": only its consumer, the owner of its dataset and "
                                    "operators may"));
  EXPECT_THAT(Get(kConsumer, theirs->id()), StatusIs(kDenied));
  EXPECT_THAT(Get(kConsumer, "g-missing"), StatusIs(absl::StatusCode::kNotFound));

  std::vector<std::string> both = {mine, theirs->id()};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(ListedGrants(kOperator), both);
  EXPECT_THAT(ListedGrants(kConsumer), ElementsAre(mine));
  EXPECT_THAT(ListedGrants(kOwner), ElementsAre(mine));
  EXPECT_THAT(ListedGrants(kOther), ElementsAre(theirs->id()));
  EXPECT_THAT(ListedGrants("tax/data"), ElementsAre(theirs->id()));

  v1::ListGrantsRequest filter;
  filter.set_dataset("tax/returns");
  EXPECT_THAT(ListedGrants(kOperator, filter), ElementsAre(theirs->id()));
  filter.Clear();
  filter.set_consumer(kConsumer);
  EXPECT_THAT(ListedGrants(kOperator, filter), ElementsAre(mine));
  filter.Clear();
  filter.set_state(v1::GRANT_STATE_REQUESTED);
  EXPECT_THAT(ListedGrants(kOperator, filter), ElementsAre(theirs->id()));
}

TEST_F(RegistryAdminTest, GrantsSurviveAReopen) {
  std::string id = Grant({"birth_id"}, {"statistics"});
  v1::Grant before = *registry_->snapshot()->FindGrant(id);
  uint64_t revision = registry_->snapshot()->revision();
  Reopen();
  EXPECT_EQ(registry_->snapshot()->revision(), revision);
  auto after = Get(kConsumer, id);
  ASSERT_THAT(after, IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*after, before));
}

TEST_F(RegistryAdminTest, BootstrapOperatorsAppliesOnlyToAnEmptyRegistry) {
  // SetUp bootstrapped kOperator on the empty registry.
  const v1::Node* operator_node = registry_->snapshot()->FindNode(kOperator);
  ASSERT_NE(operator_node, nullptr);
  EXPECT_THAT(operator_node->roles(), ElementsAre(v1::ROLE_OPERATOR));

  // Later starts change nothing: no new operator, no role given back.
  uint64_t revision = registry_->snapshot()->revision();
  EXPECT_THAT(
      admin_->BootstrapOperators({std::string(kOwner), std::string("platform/backup")}, recorder_),
      IsOkAndHolds(false));
  EXPECT_EQ(registry_->snapshot()->revision(), revision);
  EXPECT_THAT(registry_->snapshot()->FindNode(kOwner)->roles(), ElementsAre());
  EXPECT_EQ(registry_->snapshot()->FindNode("platform/backup"), nullptr);

  EXPECT_THAT(admin_->BootstrapOperators({std::string("Not An Id")}, recorder_),
              StatusIs(kInvalid, HasSubstr("agency/system")));
}

TEST_F(RegistryAdminTest, NoNodeChangesItsOwnRoles) {
  RegisterNode("platform/second", "");
  v1::RegisterNodeRequest second = NodeRequest("platform/second");
  second.mutable_node()->add_roles(v1::ROLE_OPERATOR);
  ASSERT_THAT(admin_->RegisterNode(kOperator, second, recorder_), IsOk());

  v1::RegisterNodeRequest self = NodeRequest(kOperator);
  self.mutable_node()->add_roles(v1::ROLE_OPERATOR);
  self.mutable_node()->add_roles(v1::ROLE_AUDITOR);
  EXPECT_THAT(admin_->RegisterNode(kOperator, self, recorder_),
              StatusIs(kInvalid, HasSubstr("may not hold both ROLE_OPERATOR and ROLE_AUDITOR")));
  self.mutable_node()->clear_roles();
  self.mutable_node()->add_roles(v1::ROLE_AUDITOR);
  EXPECT_THAT(admin_->RegisterNode(kOperator, self, recorder_),
              StatusIs(kDenied,
                       "node platform/ops may not change its own roles; another "
                       "operator must make the change"));
  self.mutable_node()->clear_roles();
  EXPECT_THAT(admin_->RegisterNode(kOperator, self, recorder_),
              StatusIs(kDenied, HasSubstr("may not change its own roles")));
  EXPECT_THAT(registry_->snapshot()->FindNode(kOperator)->roles(), ElementsAre(v1::ROLE_OPERATOR));

  // Its other attributes it may change; and another operator may change its roles.
  self.mutable_node()->add_roles(v1::ROLE_OPERATOR);
  self.mutable_node()->set_display_name("Platform operations");
  EXPECT_THAT(admin_->RegisterNode(kOperator, self, recorder_), IsOk());
  self.mutable_node()->clear_roles();
  ASSERT_THAT(admin_->RegisterNode("platform/second", self, recorder_), IsOk());
  EXPECT_THAT(registry_->snapshot()->FindNode(kOperator)->roles(), ElementsAre());
  const v1::RegistryChange& change = recorder_.recorded.back();
  EXPECT_THAT(change.roles_before(), ElementsAre(v1::ROLE_OPERATOR));
  EXPECT_THAT(change.roles_after(), ElementsAre());
}

TEST_F(RegistryAdminTest, OperatorAndAuditorAreNeverOneNode) {
  v1::RegisterNodeRequest both = NodeRequest("platform/audit");
  both.mutable_node()->add_roles(v1::ROLE_AUDITOR);
  both.mutable_node()->add_roles(v1::ROLE_OPERATOR);
  EXPECT_THAT(admin_->RegisterNode(kOperator, both, recorder_),
              StatusIs(kInvalid, HasSubstr("may not hold both ROLE_OPERATOR and ROLE_AUDITOR")));
  EXPECT_EQ(registry_->snapshot()->FindNode("platform/audit"), nullptr);
}

TEST_F(RegistryAdminTest, EveryWriteRecordsWhatItChangesBeforeItApplies) {
  recorder_.recorded.clear();
  v1::RegisterNodeRequest node = NodeRequest("land/core");
  node.mutable_node()->add_roles(v1::ROLE_AUDITOR);
  ASSERT_THAT(admin_->RegisterNode(kOperator, node, recorder_), IsOk());
  node.mutable_node()->clear_roles();
  node.mutable_node()->set_state(v1::NODE_STATE_SUSPENDED);
  ASSERT_THAT(admin_->RegisterNode(kOperator, node, recorder_), IsOk());
  std::string id = Grant({"birth_id", "province"}, {"statistics"});
  ASSERT_THAT(Revoke(kOwner, id), IsOk());
  ASSERT_THAT(admin_->RegisterDataset(kOwner, BirthDatasetRequest(), recorder_), IsOk());

  const std::vector<v1::RegistryChange>& changes = recorder_.recorded;
  ASSERT_EQ(changes.size(), 6u);
  EXPECT_EQ(changes[0].node_id(), "land/core");
  EXPECT_FALSE(changes[0].node_existed());
  EXPECT_THAT(changes[0].roles_after(), ElementsAre(v1::ROLE_AUDITOR));
  EXPECT_EQ(changes[0].node_state_after(), v1::NODE_STATE_ACTIVE);
  EXPECT_EQ(changes[0].adapter_endpoint_after(), "adapter.land.gov.vn:7443");
  EXPECT_TRUE(changes[1].node_existed());
  EXPECT_THAT(changes[1].roles_before(), ElementsAre(v1::ROLE_AUDITOR));
  EXPECT_THAT(changes[1].roles_after(), ElementsAre());
  EXPECT_EQ(changes[1].node_state_before(), v1::NODE_STATE_ACTIVE);
  EXPECT_EQ(changes[1].node_state_after(), v1::NODE_STATE_SUSPENDED);
  // Request, approval, revocation: the grant, its terms and its state transition.
  for (int i : {2, 3, 4}) {
    EXPECT_EQ(changes[i].grant_id(), id);
    EXPECT_EQ(changes[i].dataset_id(), kDataset);
    EXPECT_EQ(changes[i].consumer(), kConsumer);
    EXPECT_THAT(changes[i].fields(), ElementsAre("birth_id", "province"));
    EXPECT_THAT(changes[i].purposes(), ElementsAre("statistics"));
    EXPECT_THAT(changes[i].operations(),
                ElementsAre(v1::OPERATION_READ, v1::OPERATION_QUERY, v1::OPERATION_SUBSCRIBE));
  }
  EXPECT_EQ(changes[2].grant_state_before(), v1::GRANT_STATE_UNSPECIFIED);
  EXPECT_EQ(changes[2].grant_state_after(), v1::GRANT_STATE_REQUESTED);
  EXPECT_EQ(changes[3].grant_state_before(), v1::GRANT_STATE_REQUESTED);
  EXPECT_EQ(changes[3].grant_state_after(), v1::GRANT_STATE_APPROVED);
  EXPECT_EQ(changes[4].grant_state_before(), v1::GRANT_STATE_APPROVED);
  EXPECT_EQ(changes[4].grant_state_after(), v1::GRANT_STATE_REVOKED);
  EXPECT_EQ(changes[5].dataset_id(), kDataset);
  EXPECT_EQ(changes[5].schema_version_before(), 1);
  EXPECT_EQ(changes[5].schema_version_after(), 1);
  EXPECT_EQ(changes[5].key_field(), "birth_id");
  EXPECT_EQ(changes[5].subject_field(), "mother_id");
}

TEST_F(RegistryAdminTest, NothingAppliesWhoseRecordFails) {
  std::string id = Grant({"birth_id"}, {"statistics"}, absl::Hours(24), /*approve=*/false);
  uint64_t revision = registry_->snapshot()->revision();
  recorder_.refuse = absl::UnavailableError("the audit log is down");
  EXPECT_THAT(Approve(kOwner, id), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(admin_->RegisterNode(kOperator, NodeRequest("land/core"), recorder_),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(admin_->RequestGrant(
                  kConsumer, GrantRequest({"birth_id"}, {"statistics"}, kStart + absl::Hours(1)),
                  recorder_),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(registry_->snapshot()->revision(), revision);
  EXPECT_EQ(registry_->snapshot()->FindGrant(id)->state(), v1::GRANT_STATE_REQUESTED);
  EXPECT_EQ(registry_->snapshot()->FindNode("land/core"), nullptr);
  EXPECT_TRUE(recorder_.failed.empty());
}

TEST_F(RegistryAdminTest, RefusedWritesRecordNothing) {
  recorder_.recorded.clear();
  std::string id = Grant({"birth_id"}, {"statistics"}, absl::Hours(24), /*approve=*/false);
  recorder_.recorded.clear();
  EXPECT_THAT(Approve(kConsumer, id), StatusIs(kDenied));
  EXPECT_THAT(admin_->RegisterNode(kOwner, NodeRequest("land/core"), recorder_), StatusIs(kDenied));
  EXPECT_TRUE(recorder_.recorded.empty());
}

TEST_F(RegistryAdminTest, GrantsAskForOperationsAndExportOnlyByName) {
  v1::RequestGrantRequest request =
      GrantRequest({"birth_id"}, {"statistics"}, kStart + absl::Hours(1));
  auto defaults = admin_->RequestGrant(kConsumer, request, recorder_);
  ASSERT_THAT(defaults, IsOk());
  EXPECT_THAT(defaults->operations(),
              ElementsAre(v1::OPERATION_READ, v1::OPERATION_QUERY, v1::OPERATION_SUBSCRIBE));
  request.add_operations(v1::OPERATION_EXPORT);
  request.add_operations(v1::OPERATION_READ);
  request.add_operations(v1::OPERATION_EXPORT);
  auto exporting = admin_->RequestGrant(kConsumer, request, recorder_);
  ASSERT_THAT(exporting, IsOk());
  EXPECT_THAT(exporting->operations(), ElementsAre(v1::OPERATION_READ, v1::OPERATION_EXPORT));
  request.add_operations(static_cast<v1::Operation>(9));
  EXPECT_THAT(admin_->RequestGrant(kConsumer, request, recorder_),
              StatusIs(kInvalid, HasSubstr("OPERATION_EXPORT")));
}

}  // namespace
}  // namespace ndx::registry::testing
