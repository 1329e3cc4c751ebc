// Every registry input is bounded, every operation is linear in its input, listings come in
// pages.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "registry/limits.h"
#include "registry_test_util.h"

namespace ndx::registry::testing {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

class RegistryLimitsTest : public RegistryFixture {
 protected:
  absl::StatusOr<v1::Grant> Request(const v1::RequestGrantRequest& request,
                                    absl::string_view caller = kConsumer) {
    return admin_->RequestGrant(caller, request, recorder_);
  }
  v1::RequestGrantRequest ValidRequest() {
    return GrantRequest({"birth_id"}, {"statistics"}, clock_.Now() + absl::Hours(24));
  }
};

TEST_F(RegistryLimitsTest, GrantRequestsAreBoundedBeforeAnyWork) {
  v1::RequestGrantRequest request = ValidRequest();
  // A few hundred thousand purposes are refused by their count, not after comparing them.
  for (int i = 0; i < 300000; ++i) request.add_purposes("statistics");
  EXPECT_THAT(Request(request),
              StatusIs(kInvalid, "purposes has 300001 entries; at most 32 are allowed"));

  request = ValidRequest();
  for (int i = 0; i < kMaxFieldsPerGrant; ++i) request.add_fields("birth_id");
  EXPECT_THAT(Request(request), StatusIs(kInvalid, HasSubstr("fields has 257 entries")));

  request = ValidRequest();
  request.set_justification(std::string(3900 * 1024, 'j'));
  EXPECT_THAT(Request(request),
              StatusIs(kInvalid, "justification is 3993600 bytes long; at most 4096 are allowed"));

  request = ValidRequest();
  for (int i = 0; i < 9; ++i) request.add_operations(v1::OPERATION_READ);
  EXPECT_THAT(Request(request), StatusIs(kInvalid, HasSubstr("operations has 9 entries")));

  // At the limits, and with duplicates, it is accepted.
  request = ValidRequest();
  request.clear_purposes();
  for (int i = 0; i < kMaxPurposesPerGrant; ++i) request.add_purposes("statistics");
  request.set_justification(std::string(kMaxJustificationBytes, 'j'));
  absl::StatusOr<v1::Grant> grant = Request(request);
  ASSERT_THAT(grant, IsOk());
  EXPECT_THAT(grant->purposes(), ElementsAreArray({"statistics"}));
}

TEST_F(RegistryLimitsTest, ANodeHasAtMostAHundredRequestsAwaitingApproval) {
  for (int i = 0; i < kMaxPendingGrantRequestsPerNode; ++i) {
    ASSERT_THAT(Request(ValidRequest()), IsOk()) << i;
  }
  EXPECT_THAT(Request(ValidRequest()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "node moh/insurance has 100 grant requests awaiting approval, the most "
                       "allowed (100); ask the owners to decide on them, or wait for them to "
                       "expire"));
  // Another node is not affected; a decision makes room.
  EXPECT_THAT(Request(ValidRequest(), kOther), IsOk());
  v1::ListGrantsRequest list;
  list.set_consumer(kConsumer);
  list.set_page_size(1);
  absl::StatusOr<v1::ListGrantsResponse> first = admin_->ListGrants(kConsumer, list);
  ASSERT_THAT(first, IsOk());
  v1::ApproveGrantRequest approve;
  approve.set_grant_id(first->grants(0).id());
  ASSERT_THAT(admin_->ApproveGrant(kOwner, approve, recorder_), IsOk());
  EXPECT_THAT(Request(ValidRequest()), IsOk());
}

TEST_F(RegistryLimitsTest, NodesAndDatasetsAreBounded) {
  v1::RegisterNodeRequest node;
  node.mutable_node()->set_id("land/core");
  node.mutable_node()->set_kind(v1::NODE_KIND_PROVINCE);
  node.mutable_node()->set_display_name(std::string(kMaxDisplayNameBytes + 1, 'n'));
  EXPECT_THAT(admin_->RegisterNode(kOperator, node, recorder_),
              StatusIs(kInvalid, "display_name is 257 bytes long; at most 256 are allowed"));

  v1::RegisterDatasetRequest dataset = BirthDatasetRequest();
  dataset.set_proto_source(dataset.proto_source() + std::string(kMaxProtoSourceBytes, ' '));
  EXPECT_THAT(admin_->RegisterDataset(kOwner, dataset, recorder_),
              StatusIs(kInvalid, HasSubstr("proto_source is")));
  dataset = BirthDatasetRequest();
  dataset.set_description(std::string(kMaxDescriptionBytes + 1, 'd'));
  EXPECT_THAT(admin_->RegisterDataset(kOwner, dataset, recorder_),
              StatusIs(kInvalid, HasSubstr("description is 4097 bytes long")));

  std::string wide = "syntax = \"proto3\";\npackage civil.v1;\nmessage Wide {\n";
  for (int i = 1; i <= kMaxFieldsPerDataset + 1; ++i) {
    absl::StrAppend(&wide, "  string f", i, " = ", i, ";\n");
  }
  wide += "}\n";
  dataset = BirthDatasetRequest();
  dataset.set_id("civil/wide");
  dataset.set_proto_source(wide);
  dataset.set_message_type("civil.v1.Wide");
  dataset.set_key_field("f1");
  dataset.clear_subject_field();
  dataset.clear_field_classes();
  EXPECT_THAT(admin_->RegisterDataset(kOwner, dataset, recorder_),
              StatusIs(kInvalid,
                       "message civil.v1.Wide has 257 fields; a dataset's record may "
                       "have at most 256"));
}

TEST_F(RegistryLimitsTest, ListingsComeInPagesSortedById) {
  std::vector<std::string> expected;
  for (const v1::Node* node : registry_->snapshot()->Nodes()) expected.push_back(node->id());
  for (int i = 0; i < 23; ++i) {
    std::string id = absl::StrCat("province-", 10 + i, "/portal");
    RegisterNode(id, "");
    expected.push_back(id);
  }
  std::sort(expected.begin(), expected.end());

  std::vector<std::string> listed;
  v1::ListNodesRequest request;
  request.set_page_size(10);
  int pages = 0;
  do {
    absl::StatusOr<v1::ListNodesResponse> page = admin_->ListNodes(kConsumer, request);
    ASSERT_THAT(page, IsOk());
    ASSERT_LE(page->nodes_size(), 10);
    for (const v1::Node& node : page->nodes()) listed.push_back(node.id());
    request.set_page_token(page->next_page_token());
    ++pages;
  } while (!request.page_token().empty());
  EXPECT_THAT(listed, ElementsAreArray(expected));
  EXPECT_EQ(pages, 3);

  request.set_page_token("not a token!");
  EXPECT_THAT(admin_->ListNodes(kConsumer, request),
              StatusIs(kInvalid, HasSubstr("page_token is not valid")));
  request.clear_page_token();
  request.set_page_size(kMaxListPageSize + 1);
  EXPECT_THAT(admin_->ListNodes(kConsumer, request),
              StatusIs(kInvalid, "page_size 1001 is out of range 0-1000 (0 means 100)"));
}

// However large its items, a page stays around kMaxListPageBytes, so that it fits in a message.
TEST_F(RegistryLimitsTest, APageStopsAtAboutAMebibyte) {
  v1::RequestGrantRequest request = ValidRequest();
  request.set_justification(std::string(kMaxJustificationBytes, 'j'));
  constexpr int kGrants = 300;  // 300 x 4 KiB: more than a page's bytes
  for (int i = 0; i < kGrants; ++i) {
    absl::StatusOr<v1::Grant> grant = Request(request);
    ASSERT_THAT(grant, IsOk());
    v1::ApproveGrantRequest approve;
    approve.set_grant_id(grant->id());
    ASSERT_THAT(admin_->ApproveGrant(kOwner, approve, recorder_), IsOk());
  }
  v1::ListGrantsRequest list;
  list.set_page_size(kMaxListPageSize);
  int total = 0;
  do {
    absl::StatusOr<v1::ListGrantsResponse> page = admin_->ListGrants(kConsumer, list);
    ASSERT_THAT(page, IsOk());
    EXPECT_LE(page->ByteSizeLong(), kMaxListPageBytes + 8 * 1024);
    EXPECT_GT(page->grants_size(), 0);
    total += page->grants_size();
    list.set_page_token(page->next_page_token());
  } while (!list.page_token().empty());
  EXPECT_EQ(total, kGrants);
}

}  // namespace
}  // namespace ndx::registry::testing
