#ifndef NDX_TESTS_UNIT_REGISTRY_REGISTRY_TEST_UTIL_H_
#define NDX_TESTS_UNIT_REGISTRY_REGISTRY_TEST_UTIL_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "ndx/v1/registry.pb.h"
#include "registry/change_recorder.h"
#include "registry/registry.h"
#include "registry/registry_admin.h"
#include "registry/rocksdb_registry.h"
#include "testing/fake_clock.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace ndx::registry::testing {

// Matches an absl::StatusOr<T> that is OK and holds `value`.
MATCHER_P(IsOkAndHolds, value, "is OK and holds " + ::testing::PrintToString(value)) {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  *result_listener << "which holds " << ::testing::PrintToString(*arg);
  return *arg == value;
}

using ::ndx::testing::FakeClock;

inline const absl::Time kStart = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

// Fields are declared out of number order on purpose: results must come in number order.
inline constexpr char kBirthProto[] = R"(syntax = "proto3";
package civil.v1;
import "google/protobuf/timestamp.proto";
message Birth {
  string birth_id = 1;
  string child_name = 2;
  string province = 6;
  string mother_id = 3;
  google.protobuf.Timestamp registered_at = 4;
  repeated string notes = 5;
}
message Death {
  string death_id = 1;
}
)";

// The same file with one more field.
inline constexpr char kBirthProtoV2[] = R"(syntax = "proto3";
package civil.v1;
import "google/protobuf/timestamp.proto";
message Birth {
  string birth_id = 1;
  string child_name = 2;
  string province = 6;
  string mother_id = 3;
  google.protobuf.Timestamp registered_at = 4;
  repeated string notes = 5;
  string father_id = 7;
}
message Death {
  string death_id = 1;
}
)";

inline constexpr char kOperator[] = "platform/ops";
inline constexpr char kOwner[] = "civil/registry";
inline constexpr char kConsumer[] = "moh/insurance";
inline constexpr char kOther[] = "tax/core";
inline constexpr char kDataset[] = "civil/births";

inline v1::RegisterDatasetRequest BirthDatasetRequest() {
  v1::RegisterDatasetRequest request;
  request.set_id(kDataset);
  request.set_proto_file_name("birth.proto");
  request.set_proto_source(kBirthProto);
  request.set_message_type("civil.v1.Birth");
  request.set_key_field("birth_id");
  request.set_subject_field("mother_id");
  (*request.mutable_field_classes())["province"] = v1::FIELD_CLASS_OPEN;
  request.set_description("Births registered by civil status offices");
  return request;
}

inline v1::RequestGrantRequest GrantRequest(std::vector<std::string> fields,
                                            std::vector<std::string> purposes,
                                            absl::Time expires_at) {
  v1::RequestGrantRequest request;
  request.set_dataset(kDataset);
  for (std::string& field : fields) request.add_fields(std::move(field));
  for (std::string& purpose : purposes) request.add_purposes(std::move(purpose));
  request.mutable_expires_at()->set_seconds(absl::ToUnixSeconds(expires_at));
  request.set_justification("Decree 104/2022");
  return request;
}

// A ChangeRecorder that keeps what it is given, and refuses to record while `refuse` is set.
class RecordingChangeRecorder : public ChangeRecorder {
 public:
  absl::Status Record(const v1::RegistryChange& change) override {
    if (!refuse.ok()) return refuse;
    recorded.push_back(change);
    return absl::OkStatus();
  }
  void RecordFailure(const v1::RegistryChange& change, const absl::Status& failure) override {
    failed.emplace_back(change, failure);
  }
  absl::Status RecordGrantChange(const v1::RegistryChange& change,
                                 const v1::RateLimit* rate_limit) override {
    absl::Status status = Record(change);
    if (status.ok()) {
      grant_rate_limits.push_back(
          rate_limit == nullptr ? std::nullopt : std::optional<v1::RateLimit>(*rate_limit));
    }
    return status;
  }

  absl::Status refuse;
  std::vector<v1::RegistryChange> recorded;
  // The rate limit recorded with each grant change, in order.
  std::vector<std::optional<v1::RateLimit>> grant_rate_limits;
  std::vector<std::pair<v1::RegistryChange, absl::Status>> failed;
};

// A fresh registry in a temporary directory with an operator, an owner with an adapter, a
// consumer, another agency's node, and the civil/births dataset of the owner.
class RegistryFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    Reopen();
    ASSERT_TRUE(admin_->BootstrapOperators({std::string(kOperator)}, recorder_).ok());
    RegisterNode(kOwner, "127.0.0.1:7443");
    RegisterNode(kConsumer, "");
    RegisterNode(kOther, "");
    auto dataset = admin_->RegisterDataset(kOwner, BirthDatasetRequest(), recorder_);
    ASSERT_TRUE(dataset.ok()) << dataset.status();
  }

  // Closes the registry (if open) and opens it again from its directory.
  void Reopen() {
    admin_.reset();
    registry_.reset();
    auto registry = OpenRocksDbRegistry(dir_.Join("registry"));
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = *std::move(registry);
    admin_ = std::make_unique<RegistryAdmin>(registry_.get(), &clock_);
  }

  void RegisterNode(const std::string& id, const std::string& endpoint,
                    v1::NodeState state = v1::NODE_STATE_ACTIVE) {
    v1::RegisterNodeRequest request;
    request.mutable_node()->set_id(id);
    request.mutable_node()->set_display_name(id);
    request.mutable_node()->set_kind(v1::NODE_KIND_MINISTRY);
    request.mutable_node()->set_adapter_endpoint(endpoint);
    request.mutable_node()->set_state(state);
    auto node = admin_->RegisterNode(kOperator, request, recorder_);
    ASSERT_TRUE(node.ok()) << node.status();
  }

  // Requests a grant as the consumer and, when `approve`, approves it as the owner.
  // `operations` empty asks for the default ones.
  std::string Grant(std::vector<std::string> fields, std::vector<std::string> purposes,
                    absl::Duration lifetime = absl::Hours(24 * 365), bool approve = true,
                    std::vector<v1::Operation> operations = {}) {
    v1::RequestGrantRequest request =
        GrantRequest(std::move(fields), std::move(purposes), clock_.Now() + lifetime);
    for (v1::Operation operation : operations) request.add_operations(operation);
    auto grant = admin_->RequestGrant(kConsumer, request, recorder_);
    EXPECT_TRUE(grant.ok()) << grant.status();
    if (!grant.ok()) return "";
    if (approve) {
      v1::ApproveGrantRequest approve_request;
      approve_request.set_grant_id(grant->id());
      auto approved = admin_->ApproveGrant(kOwner, approve_request, recorder_);
      EXPECT_TRUE(approved.ok()) << approved.status();
    }
    return grant->id();
  }

  ndx::testing::TempDir dir_;
  FakeClock clock_{kStart};
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<RegistryAdmin> admin_;
  RecordingChangeRecorder recorder_;
};

}  // namespace ndx::registry::testing

#endif  // NDX_TESTS_UNIT_REGISTRY_REGISTRY_TEST_UTIL_H_
