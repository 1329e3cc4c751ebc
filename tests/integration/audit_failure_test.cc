// "No audit, no answer" with a real gateway whose audit log fails on demand: started in this
// process so that the test can switch its audit sink, in front of a real population adapter.

#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "audit/audit_sink.h"
#include "gateway/gateway_config.h"
#include "gateway/gateway_server.h"
#include "integration/federation.h"
#include "ndx/v1/audit.grpc.pb.h"
#include "ndx/v1/events.grpc.pb.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kPurpose[] = "health-insurance-enrolment";

// The gateway's audit sink, failing every append while `failing` is set, as a full or broken
// disk would.
class SwitchableSink final : public audit::AuditSink {
 public:
  SwitchableSink(std::unique_ptr<audit::AuditSink> sink, const std::atomic<bool>* failing)
      : sink_(std::move(sink)), failing_(failing) {}

  void Append(audit::AuditRecord record, absl::AnyInvocable<void(absl::Status) &&> done) override {
    if (failing_->load()) {
      std::move(done)(absl::InternalError("audit log write failed: No space left on device"));
      return;
    }
    sink_->Append(std::move(record), std::move(done));
  }

 private:
  std::unique_ptr<audit::AuditSink> sink_;
  const std::atomic<bool>* failing_;
};

class AuditFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
    absl::StatusOr<std::string> path = federation_.WriteGatewayConfig();
    ASSERT_THAT(path, IsOk());
    absl::StatusOr<v1::GatewayConfig> config = gateway::LoadGatewayConfig(*path);
    ASSERT_THAT(config, IsOk());
    config->set_listen_address("127.0.0.1:0");
    absl::StatusOr<std::unique_ptr<gateway::GatewayServer>> gateway =
        gateway::GatewayServer::StartForTest(
            *config, [this](std::unique_ptr<audit::AuditSink> sink) {
              return std::make_unique<SwitchableSink>(std::move(sink), &failing_);
            });
    ASSERT_THAT(gateway, IsOk());
    gateway_ = std::move(*gateway);
    federation_.UseGatewayAt(gateway_->port());
    ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
    ASSERT_THAT(federation_.RegisterAuditor(), IsOk());
    absl::StatusOr<v1::Grant> grant =
        federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose});
    ASSERT_THAT(grant, IsOk());
  }

  void TearDown() override {
    if (gateway_ != nullptr) gateway_->Shutdown(absl::ZeroDuration());
  }

  grpc::Status Get(const std::string& caller, v1::GetResponse* response) {
    return GetResident(*federation_.ExchangeAs(caller), "001090000001", kPurpose, response);
  }

  grpc::Status Publish(v1::PublishResponse* response) {
    v1::PublishRequest request;
    request.set_dataset(kResidents);
    request.set_key("001090000001");
    request.set_type("residence.registered");
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    return v1::Events::NewStub(federation_.ChannelAs(kPopulationNode))
        ->Publish(&context, request, response);
  }

  std::atomic<bool> failing_{false};
  Federation federation_;
  std::unique_ptr<gateway::GatewayServer> gateway_;
};

TEST_F(AuditFailureTest, AnAllowedReadThatCannotBeAuditedIsNotAnswered) {
  failing_ = true;
  v1::GetResponse response;
  grpc::Status status = Get(kInsuranceNode, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "Get could not be audited, so it is not answered; try again");
  EXPECT_FALSE(response.has_record());

  v1::QueryRequest query;
  query.set_dataset(kResidents);
  query.set_purpose(kPurpose);
  v1::Filter* filter = query.add_filters();
  filter->set_field("citizen_id");
  filter->set_value("001090000001");
  v1::QueryResponse found;
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  status = federation_.ExchangeAs(kInsuranceNode)->Query(&context, query, &found);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(found.records_size(), 0);

  // A refusal tells no more unaudited than audited.
  status = Get(kCivilNode, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("has no grant on dataset mops/residents"));

  failing_ = false;
  status = Get(kInsuranceNode, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.has_record());
}

TEST_F(AuditFailureTest, ARegistryChangeThatCannotBeAuditedIsNotApplied) {
  absl::StatusOr<v1::Grant> requested = federation_.Grant(
      kCivilNode, kResidents, {"full_name"}, {kPurpose}, absl::Hours(24), /*approve=*/false);
  ASSERT_THAT(requested, IsOk());

  failing_ = true;
  {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::ApproveGrantRequest request;
    request.set_grant_id(requested->id());
    v1::Grant grant;
    grpc::Status status =
        federation_.RegistryAs(kPopulationNode)->ApproveGrant(&context, request, &grant);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(status.error_message(),
              "Registry.ApproveGrant could not be audited, so nothing was changed; try again");
  }
  {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::RegisterNodeRequest request;
    request.mutable_node()->set_id("mof/tax");
    request.mutable_node()->set_display_name("Tax administration");
    request.mutable_node()->set_kind(v1::NODE_KIND_MINISTRY);
    v1::Node node;
    grpc::Status status =
        federation_.RegistryAs(kOperatorNode)->RegisterNode(&context, request, &node);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  }

  failing_ = false;
  {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::GetGrantRequest request;
    request.set_grant_id(requested->id());
    v1::Grant grant;
    ASSERT_TRUE(federation_.RegistryAs(kPopulationNode)->GetGrant(&context, request, &grant).ok());
    EXPECT_EQ(grant.state(), v1::GRANT_STATE_REQUESTED);
  }
  {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::GetNodeRequest request;
    request.set_id("mof/tax");
    v1::Node node;
    EXPECT_EQ(federation_.RegistryAs(kOperatorNode)->GetNode(&context, request, &node).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
}

TEST_F(AuditFailureTest, AnEventThatCannotBeAuditedIsNotStored) {
  failing_ = true;
  v1::PublishResponse published;
  grpc::Status status = Publish(&published);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(),
            "Events.Publish could not be audited, so nothing was changed; try again");

  // The next publication is the dataset's first event.
  failing_ = false;
  status = Publish(&published);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(published.event().sequence(), 1u);
}

TEST_F(AuditFailureTest, AuditorsAreNotAnsweredUnaudited) {
  failing_ = true;
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::QueryEntriesRequest request;
  request.set_subject("001090000001");
  v1::QueryEntriesResponse response;
  grpc::Status status = v1::Audit::NewStub(federation_.ChannelAs(kAuditorNode))
                            ->QueryEntries(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(response.entries_size(), 0);
}

}  // namespace
}  // namespace ndx::testing
