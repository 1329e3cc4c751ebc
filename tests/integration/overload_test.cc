// The gateway under overload, through a real gateway process: caps per caller node, the bulkhead
// and circuit breaker of each owner's adapter, shedding by deadline, and the gRPC port's
// connection policy (keepalive, idle connections).

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "integration/fake_adapter.h"
#include "integration/federation.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPurpose[] = "health-insurance-enrolment";
// A second owner, with an adapter and a dataset of its own.
constexpr char kBirthsNode[] = "moj/births-register";
constexpr char kBirths[] = "moj/births";

FakeAdapter::Reply AnswerAnyRecord() {
  return [](const v1::FetchRequest& request, v1::FetchResponse* response) {
    // citizen_id (field 1) = the key: the record's subject.
    std::string record;
    record.push_back(0x0a);
    record.push_back(static_cast<char>(request.key().size()));
    record += request.key();
    response->set_record(std::move(record));
    return grpc::Status::OK;
  };
}

class OverloadTest : public ::testing::Test {
 protected:
  // Starts the gateway with `config` in front of a fake population adapter that answers every
  // Fetch with `reply`, and grants moh/insurance and moj/civil-status reads of mops/residents.
  void StartWith(const std::string& config, FakeAdapter::Reply reply = AnswerAnyRecord()) {
    population_ =
        std::make_unique<FakeAdapter>(federation_.pki().Node(kPopulationNode), std::move(reply));
    ASSERT_THAT(federation_.StartGateway(absl::Seconds(20), 0, config), IsOk());
    ASSERT_THAT(federation_.RegisterNodesAndResidents(population_->endpoint()), IsOk());
    for (const char* consumer : {kInsuranceNode, kCivilNode}) {
      ASSERT_THAT(federation_.Grant(consumer, kResidents, {"citizen_id"}, {kPurpose}), IsOk());
    }
  }

  // Registers kBirthsNode, whose adapter answers every Fetch, with its dataset kBirths, and
  // grants moh/insurance reads of it.
  void AddBirthsOwner() {
    births_ = std::make_unique<FakeAdapter>(federation_.pki().Node(kBirthsNode), AnswerAnyRecord());
    {
      v1::RegisterNodeRequest request;
      request.mutable_node()->set_id(kBirthsNode);
      request.mutable_node()->set_display_name("Births register");
      request.mutable_node()->set_kind(v1::NODE_KIND_MINISTRY);
      request.mutable_node()->set_adapter_endpoint(births_->endpoint());
      v1::Node node;
      grpc::ClientContext context;
      SetTimeout(&context, absl::Seconds(10));
      grpc::Status status =
          federation_.RegistryAs(kOperatorNode)->RegisterNode(&context, request, &node);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
    {
      v1::RegisterDatasetRequest request;
      request.set_id(kBirths);
      request.set_proto_file_name("resident.proto");
      request.set_proto_source(kResidentProto);
      request.set_message_type("population.v1.Resident");
      request.set_key_field("citizen_id");
      request.set_subject_field("citizen_id");
      request.set_description("Births");
      v1::Dataset dataset;
      grpc::ClientContext context;
      SetTimeout(&context, absl::Seconds(10));
      grpc::Status status =
          federation_.RegistryAs(kBirthsNode)->RegisterDataset(&context, request, &dataset);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
    v1::Grant grant;
    {
      v1::RequestGrantRequest request;
      request.set_dataset(kBirths);
      request.add_fields("citizen_id");
      request.add_purposes(kPurpose);
      *request.mutable_expires_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(
          absl::ToUnixSeconds(absl::Now() + absl::Hours(24)));
      request.set_justification("integration test");
      grpc::ClientContext context;
      SetTimeout(&context, absl::Seconds(10));
      grpc::Status status =
          federation_.RegistryAs(kInsuranceNode)->RequestGrant(&context, request, &grant);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
    v1::ApproveGrantRequest approval;
    approval.set_grant_id(grant.id());
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    grpc::Status status =
        federation_.RegistryAs(kBirthsNode)->ApproveGrant(&context, approval, &grant);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // Exchange.Get of `dataset` as `caller` on `exchange` (a new connection when none).
  grpc::Status Get(const std::string& caller, absl::Duration timeout = absl::Seconds(10),
                   const std::string& dataset = kResidents,
                   v1::Exchange::Stub* exchange = nullptr) {
    std::unique_ptr<v1::Exchange::Stub> own;
    if (exchange == nullptr) {
      own = federation_.ExchangeAs(caller);
      exchange = own.get();
    }
    v1::GetRequest request;
    request.set_dataset(dataset);
    request.set_key("001090000001");
    request.set_purpose(kPurpose);
    v1::GetResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, timeout);
    return exchange->Get(&context, request, &response);
  }

  // Starts `count` reads by `caller` in the background, each on its own connection; their
  // statuses are in held_ once JoinHeld() returns.
  void StartHeldReads(const std::string& caller, int count) {
    held_ = std::vector<grpc::Status>(count);
    for (int i = 0; i < count; ++i) {
      held_threads_.emplace_back([this, caller, i] { held_[i] = Get(caller, absl::Seconds(30)); });
    }
  }

  void JoinHeld() {
    for (std::thread& thread : held_threads_) thread.join();
    held_threads_.clear();
  }

  // Waits until the population adapter holds `count` calls; false if it does not within 20 s.
  bool WaitForHanging(int count) {
    absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (population_->hanging() < count && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return population_->hanging() == count;
  }

  void TearDown() override {
    if (population_ != nullptr) population_->ReleaseHanging();
    JoinHeld();
  }

  Federation federation_;
  std::unique_ptr<FakeAdapter> population_;
  std::unique_ptr<FakeAdapter> births_;
  std::vector<grpc::Status> held_;
  std::vector<std::thread> held_threads_;
};

TEST_F(OverloadTest, ANodeAtItsCallCapIsRefusedWhileAnotherNodeStillReads) {
  StartWith("node_limits { defaults { calls: 2 } }\n");
  population_->HangWhen(
      [](const v1::FetchRequest& request) { return request.context().caller() == kInsuranceNode; });
  StartHeldReads(kInsuranceNode, 2);
  ASSERT_TRUE(WaitForHanging(2));

  grpc::Status refused = Get(kInsuranceNode);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(refused.error_message(),
            "node moh/insurance has 2 reads in progress, as many as the gateway allows it "
            "(node_limits.defaults.calls); retry once some are answered");
  // Nothing was forwarded.
  EXPECT_EQ(population_->fetch_count(), 2);

  grpc::Status other = Get(kCivilNode);
  EXPECT_TRUE(other.ok()) << other.error_message();

  population_->ReleaseHanging();
  JoinHeld();
  for (const grpc::Status& status : held_) EXPECT_TRUE(status.ok()) << status.error_message();
  // The node's places are free again.
  grpc::Status again = Get(kInsuranceNode);
  EXPECT_TRUE(again.ok()) << again.error_message();
}

TEST_F(OverloadTest, ACallOnAConnectionPastTheNodesCapIsRefused) {
  StartWith("node_limits { defaults { connections: 2 } }\n");
  // One call per connection, one after another, as ndxctl makes them: never refused.
  for (int i = 0; i < 4; ++i) {
    grpc::Status status = Get(kInsuranceNode);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  population_->HangWhen(
      [](const v1::FetchRequest& request) { return request.context().caller() == kInsuranceNode; });
  StartHeldReads(kInsuranceNode, 2);
  ASSERT_TRUE(WaitForHanging(2));

  grpc::Status status = Get(kInsuranceNode);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(status.error_message(),
            "node moh/insurance has calls in progress on 2 connections, as many as the gateway "
            "allows it (node_limits.defaults.connections); send the calls over fewer gRPC "
            "channels: one channel multiplexes them all");
  EXPECT_EQ(population_->fetch_count(), 6);
  // Other nodes have connections of their own.
  status = Get(kCivilNode);
  EXPECT_TRUE(status.ok()) << status.error_message();

  population_->ReleaseHanging();
  JoinHeld();
  for (const grpc::Status& held : held_) EXPECT_TRUE(held.ok()) << held.error_message();
}

TEST_F(OverloadTest, AHangingOwnersFullBulkheadShedsWhileAnotherOwnersDatasetReadsFine) {
  // One consumer fills the bulkhead alone here (no share per caller).
  StartWith("owner_guard { max_in_flight: 2 caller_share_percent: 100 }\n");
  AddBirthsOwner();
  population_->HangWhen([](const v1::FetchRequest&) { return true; });
  StartHeldReads(kCivilNode, 2);
  ASSERT_TRUE(WaitForHanging(2));

  grpc::Status shed = Get(kInsuranceNode);
  EXPECT_EQ(shed.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(shed.error_message(),
            "the adapter of mops/population has 2 calls in flight, the gateway's limit for it "
            "(owner_guard.max_in_flight); retry later");
  EXPECT_EQ(population_->fetch_count(), 2);

  grpc::Status births = Get(kInsuranceNode, absl::Seconds(10), kBirths);
  EXPECT_TRUE(births.ok()) << births.error_message();
  EXPECT_EQ(births_->fetch_count(), 1);

  population_->ReleaseHanging();
  JoinHeld();
  for (const grpc::Status& status : held_) EXPECT_TRUE(status.ok()) << status.error_message();
}

// A consumer whose reads hang at an owner's adapter holds at most its share of that owner's
// bulkhead: the owner's other consumers still read.
TEST_F(OverloadTest, AConsumerHoldsOnlyItsShareOfAnOwnersBulkhead) {
  StartWith("owner_guard { max_in_flight: 4 caller_share_percent: 50 }\n");
  population_->HangWhen(
      [](const v1::FetchRequest& request) { return request.context().caller() == kCivilNode; });
  StartHeldReads(kCivilNode, 2);
  ASSERT_TRUE(WaitForHanging(2));

  grpc::Status refused = Get(kCivilNode);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(refused.error_message(),
            "node moj/civil-status has 2 calls in flight to the adapter of mops/population, its "
            "share of the adapter's calls (owner_guard.caller_share_percent: 50% of 4); retry "
            "once some are answered");
  EXPECT_EQ(population_->fetch_count(), 2);

  grpc::Status other = Get(kInsuranceNode);
  EXPECT_TRUE(other.ok()) << other.error_message();

  population_->ReleaseHanging();
  JoinHeld();
  for (const grpc::Status& status : held_) EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(OverloadTest, TheCircuitOpensAfterFailuresAndClosesOnceTheAdapterRecovers) {
  auto failing = std::make_shared<std::atomic<bool>>(true);
  FakeAdapter::Reply answer = AnswerAnyRecord();
  StartWith("owner_guard { circuit { failures_to_open: 3 open_ms: 500 } }\n",
            [failing, answer](const v1::FetchRequest& request, v1::FetchResponse* response) {
              if (failing->load()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "db down");
              return answer(request, response);
            });
  for (int i = 0; i < 3; ++i) {
    grpc::Status status = Get(kInsuranceNode);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_THAT(status.error_message(), HasSubstr("is unavailable; try again later"));
  }
  grpc::Status open = Get(kInsuranceNode);
  EXPECT_EQ(open.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(open.error_message(),
              HasSubstr("the circuit to the adapter of mops/population is open after 3 "
                        "consecutive failures; next probe in "));
  EXPECT_EQ(population_->fetch_count(), 3);

  // The adapter recovers; once the circuit's open time has passed, one probe finds it answering.
  failing->store(false);
  absl::SleepFor(absl::Milliseconds(600));
  grpc::Status probe = Get(kInsuranceNode);
  EXPECT_TRUE(probe.ok()) << probe.error_message();
  for (const char* caller : {kInsuranceNode, kCivilNode}) {
    grpc::Status status = Get(caller);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(population_->fetch_count(), 6);

  EXPECT_EQ(federation_.StopGateway(), 0);
  const std::string log = federation_.GatewayLog();
  EXPECT_THAT(log, HasSubstr("the circuit to the adapter of mops/population opened after 3 "
                             "consecutive failures"));
  EXPECT_THAT(log, HasSubstr("the circuit to the adapter of mops/population is half-open"));
  EXPECT_THAT(log,
              HasSubstr("the adapter of mops/population answered the probe call; its circuit is "
                        "closed"));
  EXPECT_THAT(log, Not(HasSubstr("001090000001")));
}

TEST_F(OverloadTest, ADeadlineShorterThanTheAdaptersUsualLatencyIsRefusedBeforeForwarding) {
  StartWith("owner_guard { deadline_shedding { min_samples: 5 } }\n");
  population_->set_delay(absl::Milliseconds(300));
  for (int i = 0; i < 5; ++i) {
    grpc::Status status = Get(kInsuranceNode);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  grpc::Status shed = Get(kInsuranceNode, absl::Milliseconds(150));
  EXPECT_EQ(shed.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(shed.error_message(), HasSubstr("; the adapter of mops/population needs about "));
  EXPECT_THAT(shed.error_message(), HasSubstr("give the call a longer deadline"));
  EXPECT_EQ(population_->fetch_count(), 5);
  // A deadline the adapter usually meets is forwarded.
  grpc::Status status = Get(kInsuranceNode, absl::Seconds(5));
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(population_->fetch_count(), 6);
}

TEST_F(OverloadTest, AClientPingingTooOftenIsDisconnected) {
  StartWith("");
  population_->HangWhen([](const v1::FetchRequest&) { return true; });
  auto credentials = crypto::MakeChannelCredentials(federation_.pki().Node(kInsuranceNode),
                                                    crypto::SpiffeId::Gateway("ndx.test", "core"));
  ASSERT_THAT(credentials, IsOk());
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // A keepalive far below the gateway's 30 s, with nothing holding it back on the client.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_HTTP2_MIN_SENT_PING_INTERVAL_WITHOUT_DATA_MS, 0);
  auto exchange = v1::Exchange::NewStub(
      grpc::CreateCustomChannel(federation_.gateway_address(), *credentials, args));
  // The read waits for the hanging adapter; the pings get its connection closed long before the
  // read's deadline.
  grpc::Status status = Get(kInsuranceNode, absl::Seconds(30), kResidents, exchange.get());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(OverloadTest, AnIdleConnectionIsClosed) {
  StartWith("node_limits { transport { max_connection_idle_ms: 300 } }\n");
  std::shared_ptr<grpc::Channel> channel = federation_.ChannelAs(kInsuranceNode);
  auto exchange = v1::Exchange::NewStub(channel);
  grpc::Status status = Get(kInsuranceNode, absl::Seconds(10), kResidents, exchange.get());
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);
  // The gateway closes it (GOAWAY); the channel goes idle until its next call.
  EXPECT_TRUE(channel->WaitForStateChange(
      GRPC_CHANNEL_READY, std::chrono::system_clock::now() + std::chrono::seconds(20)));
  EXPECT_NE(channel->GetState(false), GRPC_CHANNEL_READY);
  status = Get(kInsuranceNode, absl::Seconds(10), kResidents, exchange.get());
  EXPECT_TRUE(status.ok()) << status.error_message();
}

}  // namespace
}  // namespace ndx::testing
