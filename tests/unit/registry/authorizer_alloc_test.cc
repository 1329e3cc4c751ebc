// Authorize is the hot path: it may allocate only the Decision's two vectors.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "alloc_counter.h"
#include "registry/authorizer.h"
#include "registry_test_util.h"

namespace ndx::registry::testing {
namespace {

using ::ndx::testing::IsOk;
using ::testing::ElementsAre;

class AuthorizerAllocationTest : public RegistryFixture {};

TEST_F(AuthorizerAllocationTest, AllowedReadAllocatesOnlyTheDecisionVectors) {
  // Several grants, so that the search goes past some that do not fit.
  Grant({"birth_id"}, {"statistics"});
  Grant({"child_name"}, {"health-insurance"});
  Grant({"birth_id", "province", "mother_id"}, {"health-insurance"});
  std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
  // Names short enough for std::string's inline buffer: copying them allocates nothing.
  std::vector<std::string> fields = {"province", "birth_id"};
  std::vector<std::string> filters = {"mother_id"};
  ReadRequest request;
  request.dataset = kDataset;
  request.operation = v1::OPERATION_READ;
  request.fields = fields;
  request.purpose = "health-insurance";
  request.filter_fields = filters;
  absl::Time now = clock_.Now();

  for (bool all_granted : {false, true}) {
    if (all_granted) request.fields = {};
    StartCountingAllocations();
    absl::StatusOr<Decision> decision = Authorize(*snapshot, kConsumer, request, now);
    int allocations = StopCountingAllocations();
    ASSERT_THAT(decision, IsOk());
    EXPECT_EQ(allocations, 2) << (all_granted ? "all granted fields" : "two requested fields");
    if (all_granted) {
      EXPECT_THAT(decision->fields, ElementsAre("birth_id", "mother_id", "province"));
    } else {
      EXPECT_THAT(decision->fields, ElementsAre("birth_id", "province"));
    }
  }
}

}  // namespace
}  // namespace ndx::registry::testing
