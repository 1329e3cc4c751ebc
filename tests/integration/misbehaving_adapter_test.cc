// The gateway facing adapters that send too much, too late, or too big.

#include <grpcpp/client_context.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common/files.h"
#include "common/schema.h"
#include "integration/fake_adapter.h"
#include "integration/federation.h"
#include "integration/resident_record.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPurpose[] = "health-insurance-enrolment";

// A Resident record with every field set, and one field the schema does not know.
std::string FullRecord() {
  auto schema = *Schema::Load(*CompileProtoFile("resident.proto", kResidentProto));
  const google::protobuf::Descriptor* descriptor = *schema->FindMessage("population.v1.Resident");
  std::unique_ptr<google::protobuf::Message> message = schema->NewMessage(descriptor);
  const google::protobuf::Reflection* reflection = message->GetReflection();
  for (const char* name : {"citizen_id", "full_name", "birth_date", "province", "address"}) {
    reflection->SetString(message.get(), descriptor->FindFieldByName(name),
                          std::string("value of ") + name);
  }
  reflection->SetInt64(message.get(), descriptor->FindFieldByName("household_size"), 7);
  reflection->MutableUnknownFields(message.get())->AddLengthDelimited(99, "not in any schema");
  return message->SerializeAsString();
}

// An adapter that answers every Fetch with FullRecord().
FakeAdapter::Reply AnswerFullRecord() {
  return [](const v1::FetchRequest&, v1::FetchResponse* response) {
    response->set_record(FullRecord());
    return grpc::Status::OK;
  };
}

class MisbehavingAdapterTest : public ::testing::Test {
 protected:
  void StartWith(FakeAdapter::Reply reply, absl::Duration gateway_limit = absl::Seconds(2),
                 int max_message_bytes = 0, const std::string& gateway_config = "") {
    adapter_ =
        std::make_unique<FakeAdapter>(federation_.pki().Node(kPopulationNode), std::move(reply));
    ASSERT_THAT(federation_.StartGateway(gateway_limit, max_message_bytes, gateway_config), IsOk());
    ASSERT_THAT(federation_.RegisterNodesAndResidents(adapter_->endpoint()), IsOk());
    ASSERT_THAT(
        federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
        IsOk());
  }

  grpc::Status Get(v1::GetResponse* response, absl::Duration timeout = absl::Seconds(10),
                   const std::string& purpose = kPurpose,
                   const std::string& caller = kInsuranceNode) {
    v1::GetRequest request;
    request.set_dataset(kResidents);
    request.set_key("001090000001");
    request.set_purpose(purpose);
    grpc::ClientContext context;
    SetTimeout(&context, timeout);
    return federation_.ExchangeAs(caller)->Get(&context, request, response);
  }

  Federation federation_;
  std::unique_ptr<FakeAdapter> adapter_;
};

TEST_F(MisbehavingAdapterTest, ExtraFieldsAreStripped) {
  StartWith([](const v1::FetchRequest& request, v1::FetchResponse* response) {
    EXPECT_EQ(request.context().caller(), kInsuranceNode);
    EXPECT_EQ(request.context().purpose(), kPurpose);
    EXPECT_EQ(request.context().request_id().size(), 32u);
    response->set_record(FullRecord());
    return grpc::Status::OK;
  });
  v1::GetResponse response;
  grpc::Status status = Get(&response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(ResidentFields(response.record()), ::testing::ElementsAre("citizen_id", "full_name"));
}

// A read that cannot be attributed to a citizen is not answered.
TEST_F(MisbehavingAdapterTest, ARecordWithoutItsSubjectIsNotAnswered) {
  StartWith([](const v1::FetchRequest& request, v1::FetchResponse* response) {
    // The gateway asks for the subject field, which the grant below does not name.
    EXPECT_THAT(request.fields(), ::testing::Contains("citizen_id"));
    auto schema = *Schema::Load(*CompileProtoFile("resident.proto", kResidentProto));
    const google::protobuf::Descriptor* descriptor = *schema->FindMessage("population.v1.Resident");
    std::unique_ptr<google::protobuf::Message> message = schema->NewMessage(descriptor);
    message->GetReflection()->SetString(message.get(), descriptor->FindFieldByName("full_name"),
                                        "Nguyen Van An");
    response->set_record(message->SerializeAsString());
    return grpc::Status::OK;
  });
  ASSERT_THAT(federation_.Grant(kCivilNode, kResidents, {"full_name"}, {kPurpose}), IsOk());
  v1::GetResponse response;
  grpc::Status status = Get(&response, absl::Seconds(10), kPurpose, kCivilNode);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(),
              HasSubstr("came back from the adapter of mops/population without its subject field "
                        "citizen_id"));
  EXPECT_FALSE(response.has_record());
}

// An adapter's own text may name the key or a value: the caller gets a fixed text, and no log
// of the gateway keeps the adapter's.
TEST_F(MisbehavingAdapterTest, TheAdaptersOwnTextsReachNoOne) {
  std::atomic<int> calls{0};
  StartWith([&calls](const v1::FetchRequest& request, v1::FetchResponse*) {
    const std::string text = "no record with citizen_id = \"" + request.key() + "\"";
    return ++calls == 1 ? grpc::Status(grpc::StatusCode::NOT_FOUND, text)
                        : grpc::Status(grpc::StatusCode::INTERNAL, text);
  });
  v1::GetResponse response;
  grpc::Status status = Get(&response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "dataset mops/residents has no record with this citizen_id");
  status = Get(&response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(),
            "the adapter of mops/population failed (INTERNAL); its operator finds why in its log");

  EXPECT_EQ(federation_.StopGateway(), 0);
  EXPECT_THAT(federation_.DecisionLog(), Not(HasSubstr("001090000001")));
  EXPECT_THAT(ReadFile(federation_.dir().Join("gateway.log")).value_or(""),
              Not(HasSubstr("001090000001")));
}

TEST_F(MisbehavingAdapterTest, SlowAdapterGivesDeadlineExceededAtTheGatewaysLimit) {
  StartWith(AnswerFullRecord(),
            /*gateway_limit=*/absl::Milliseconds(300));
  adapter_->set_delay(absl::Seconds(3));
  v1::GetResponse response;
  // The caller allows 5 s; the gateway gives the adapter 300 ms and says so.
  grpc::Status status = Get(&response, absl::Seconds(5));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("300 ms"));
}

TEST_F(MisbehavingAdapterTest, CallersShorterDeadlineIsPassedOn) {
  StartWith(AnswerFullRecord());
  adapter_->set_delay(absl::Seconds(3));
  v1::GetResponse response;
  grpc::Status status = Get(&response, absl::Milliseconds(400));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
}

TEST_F(MisbehavingAdapterTest, OversizedMessagesAreResourceExhausted) {
  StartWith(
      [](const v1::FetchRequest&, v1::FetchResponse* response) {
        response->set_record(std::string(256 << 10, 'x'));
        return grpc::Status::OK;
      },
      absl::Seconds(2), /*max_message_bytes=*/64 << 10);
  v1::GetResponse response;
  grpc::Status status = Get(&response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();

  // A request larger than the gateway accepts is refused before any lookup.
  status = Get(&response, absl::Seconds(10), std::string(128 << 10, 'p'));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
}

TEST_F(MisbehavingAdapterTest, DeniedReadIsNeverForwarded) {
  StartWith(AnswerFullRecord());
  v1::GetResponse response;
  EXPECT_EQ(Get(&response, absl::Seconds(10), "tax-assessment").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(adapter_->fetch_count(), 0);
}

TEST_F(MisbehavingAdapterTest, SlowReadsWaitForTheAdapterTogether) {
  // Each read comes on a connection of its own: more than a node's default cap of connections.
  StartWith(AnswerFullRecord(), absl::Seconds(5), 0,
            "node_limits { defaults { connections: 16 } }\n");
  adapter_->set_delay(absl::Seconds(1));
  // Waiting one after another, 16 reads of 1 s each would miss a 6 s deadline: no gateway
  // thread may wait for an adapter.
  constexpr int kReads = 16;
  std::vector<grpc::Status> statuses(kReads);
  std::vector<std::thread> callers;
  for (int i = 0; i < kReads; ++i) {
    callers.emplace_back([this, &statuses, i] {
      v1::GetResponse response;
      statuses[i] = Get(&response, absl::Seconds(6));
    });
  }
  for (std::thread& caller : callers) caller.join();
  for (const grpc::Status& status : statuses) EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(adapter_->fetch_count(), kReads);
}

TEST_F(MisbehavingAdapterTest, StoppingGatewayAnswersTheReadInFlightFirst) {
  StartWith(AnswerFullRecord());
  adapter_->set_delay(absl::Milliseconds(800));
  grpc::Status status;
  std::thread caller([this, &status] {
    v1::GetResponse response;
    status = Get(&response);
  });
  while (adapter_->fetch_count() == 0) absl::SleepFor(absl::Milliseconds(10));
  int stopped = federation_.StopGateway();
  caller.join();
  EXPECT_TRUE(WIFEXITED(stopped) && WEXITSTATUS(stopped) == 0) << "wait status " << stopped;
  EXPECT_TRUE(status.ok()) << status.error_message();
}

}  // namespace
}  // namespace ndx::testing
