// Events end to end: a real ndx-gateway process, owners publishing and nodes subscribing over
// mTLS on 127.0.0.1.

#include <grpcpp/client_context.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <deque>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/files.h"
#include "integration/federation.h"
#include "ndx/v1/events.grpc.pb.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kPurpose[] = "health-insurance-enrolment";
constexpr char kHouseholds[] = "mops/households";
const absl::Duration kWait = absl::Seconds(15);

// One Subscribe stream, read on its own thread.
class Subscriber {
 public:
  Subscriber(std::shared_ptr<grpc::Channel> channel, const std::string& dataset,
             const std::string& purpose = kPurpose, uint32_t max_unacknowledged = 0)
      : stub_(v1::Events::NewStub(channel)) {
    v1::SubscribeRequest request;
    request.set_dataset(dataset);
    request.set_purpose(purpose);
    request.set_max_unacknowledged(max_unacknowledged);
    thread_ = std::thread([this, request] {
      std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
          stub_->Subscribe(&context_, request);
      reader->WaitForInitialMetadata();
      subscribed_.Notify();
      v1::SubscribeResponse response;
      while (reader->Read(&response)) {
        absl::MutexLock lock(&mutex_);
        received_.push_back(response);
      }
      grpc::Status status = reader->Finish();
      absl::MutexLock lock(&mutex_);
      status_ = status;
    });
  }

  ~Subscriber() {
    context_.TryCancel();
    thread_.join();
  }

  // Waits until the subscription is durable (or the stream ended).
  void WaitSubscribed() { ASSERT_TRUE(subscribed_.WaitForNotificationWithTimeout(kWait)); }

  // Waits until `count` items arrived in all and returns them all.
  std::vector<v1::SubscribeResponse> WaitFor(size_t count) {
    absl::MutexLock lock(&mutex_);
    wanted_ = count;
    mutex_.AwaitWithTimeout(absl::Condition(this, &Subscriber::HasWanted), kWait);
    return received_;
  }

  std::vector<v1::SubscribeResponse> Received() {
    absl::MutexLock lock(&mutex_);
    return received_;
  }

  // Waits for the end of the stream and returns its status.
  grpc::Status WaitEnd() {
    absl::MutexLock lock(&mutex_);
    mutex_.AwaitWithTimeout(
        absl::Condition(
            +[](std::optional<grpc::Status>* status) { return status->has_value(); }, &status_),
        kWait);
    return status_.value_or(grpc::Status(grpc::StatusCode::UNKNOWN, "stream did not end"));
  }

 private:
  bool HasWanted() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return received_.size() >= wanted_;
  }

  std::unique_ptr<v1::Events::Stub> stub_;
  grpc::ClientContext context_;
  absl::Notification subscribed_;
  absl::Mutex mutex_;
  std::vector<v1::SubscribeResponse> received_ ABSL_GUARDED_BY(mutex_);
  size_t wanted_ ABSL_GUARDED_BY(mutex_) = 0;
  std::optional<grpc::Status> status_ ABSL_GUARDED_BY(mutex_);
  std::thread thread_;
};

std::vector<uint64_t> Sequences(const std::vector<v1::SubscribeResponse>& items) {
  std::vector<uint64_t> sequences;
  for (const v1::SubscribeResponse& item : items) {
    sequences.push_back(item.has_event() ? item.event().sequence() : 0);
  }
  return sequences;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> range;
  for (uint64_t s = first; s <= last; ++s) range.push_back(s);
  return range;
}

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override { StartFederation(""); }

  void StartFederation(const std::string& extra_config) {
    ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
    ASSERT_THAT(federation_.StartGateway(absl::Seconds(2), 0, extra_config), IsOk());
    ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
  }

  std::unique_ptr<v1::Events::Stub> EventsAs(const std::string& node) {
    return v1::Events::NewStub(federation_.ChannelAs(node));
  }

  grpc::Status Publish(const std::string& node, const std::string& dataset, const std::string& key,
                       const std::string& type = "residence.registered",
                       v1::PublishResponse* response = nullptr) {
    v1::PublishRequest request;
    request.set_dataset(dataset);
    request.set_key(key);
    request.set_type(type);
    v1::PublishResponse ignored;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    return EventsAs(node)->Publish(&context, request, response ? response : &ignored);
  }

  void PublishResidents(int count, int from = 1) {
    for (int i = from; i < from + count; ++i) {
      grpc::Status status =
          Publish(kPopulationNode, kResidents, absl::StrCat("00109000", 1000 + i));
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
  }

  grpc::Status Ack(const std::string& node, const std::string& dataset, uint64_t sequence,
                   v1::AckResponse* response = nullptr) {
    v1::AckRequest request;
    request.set_dataset(dataset);
    request.set_sequence(sequence);
    v1::AckResponse ignored;
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    return EventsAs(node)->Ack(&context, request, response ? response : &ignored);
  }

  std::vector<v1::Subscription> Subscriptions(const std::string& node) {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::ListSubscriptionsResponse response;
    grpc::Status status =
        EventsAs(node)->ListSubscriptions(&context, v1::ListSubscriptionsRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.subscriptions().begin(), response.subscriptions().end()};
  }

  absl::StatusOr<v1::Grant> GrantInsurance(const std::string& dataset = kResidents) {
    return federation_.Grant(kInsuranceNode, dataset, {"citizen_id", "full_name"}, {kPurpose});
  }

  // A second dataset of mops/population, to check that orders are per dataset.
  void RegisterHouseholds() {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::RegisterDatasetRequest request;
    request.set_id(kHouseholds);
    request.set_proto_file_name("resident.proto");
    request.set_proto_source(kResidentProto);
    request.set_message_type("population.v1.Resident");
    request.set_key_field("citizen_id");
    v1::Dataset dataset;
    grpc::Status status =
        federation_.RegistryAs(kPopulationNode)->RegisterDataset(&context, request, &dataset);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  Federation federation_;
};

TEST_F(EventsTest, SubscriberReceivesEventsInOrderAsReferencesOnly) {
  ASSERT_THAT(GrantInsurance(), IsOk());
  Subscriber subscriber(federation_.ChannelAs(kInsuranceNode), kResidents);
  subscriber.WaitSubscribed();
  v1::PublishResponse published;
  ASSERT_TRUE(
      Publish(kPopulationNode, kResidents, "001090000001", "residence.registered", &published)
          .ok());
  EXPECT_EQ(published.event().sequence(), 1u);
  EXPECT_EQ(published.subscriptions(), 1u);
  PublishResidents(49, 2);

  std::vector<v1::SubscribeResponse> items = subscriber.WaitFor(50);
  EXPECT_EQ(Sequences(items), Range(1, 50));
  const v1::Event& first = items[0].event();
  EXPECT_EQ(first.dataset(), kResidents);
  EXPECT_EQ(first.key(), "001090000001");
  EXPECT_EQ(first.type(), "residence.registered");
  EXPECT_EQ(first.publisher(), kPopulationNode);
  EXPECT_TRUE(first.has_published_at());
  EXPECT_EQ(items[49].event().key(), "001090001050");
}

TEST_F(EventsTest, OrderIsPerDataset) {
  RegisterHouseholds();
  ASSERT_THAT(GrantInsurance(), IsOk());
  ASSERT_THAT(GrantInsurance(kHouseholds), IsOk());
  Subscriber residents(federation_.ChannelAs(kInsuranceNode), kResidents);
  Subscriber households(federation_.ChannelAs(kInsuranceNode), kHouseholds);
  residents.WaitSubscribed();
  households.WaitSubscribed();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Publish(kPopulationNode, kResidents, absl::StrCat("r", i)).ok());
    ASSERT_TRUE(Publish(kPopulationNode, kHouseholds, absl::StrCat("h", i)).ok());
  }
  std::vector<v1::SubscribeResponse> r = residents.WaitFor(10);
  std::vector<v1::SubscribeResponse> h = households.WaitFor(10);
  EXPECT_EQ(Sequences(r), Range(1, 10));
  EXPECT_EQ(Sequences(h), Range(1, 10));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(r[i].event().key(), absl::StrCat("r", i));
    EXPECT_EQ(h[i].event().key(), absl::StrCat("h", i));
  }
}

TEST_F(EventsTest, AtMostTheWindowIsOutstandingUntilAcknowledged) {
  ASSERT_THAT(GrantInsurance(), IsOk());
  Subscriber subscriber(federation_.ChannelAs(kInsuranceNode), kResidents, kPurpose, 3);
  subscriber.WaitSubscribed();
  PublishResidents(8);
  EXPECT_EQ(Sequences(subscriber.WaitFor(3)), Range(1, 3));
  // The gateway must stop at the window; give it time to (wrongly) send more.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(subscriber.Received().size(), 3u);
  ASSERT_TRUE(Ack(kInsuranceNode, kResidents, 2).ok());
  EXPECT_EQ(Sequences(subscriber.WaitFor(5)), Range(1, 5));
  // Events acknowledged before they were sent are skipped.
  ASSERT_TRUE(Ack(kInsuranceNode, kResidents, 8).ok());
  PublishResidents(1, 9);
  EXPECT_THAT(Sequences(subscriber.WaitFor(6)), ElementsAre(1, 2, 3, 4, 5, 9));
}

TEST_F(EventsTest, UnacknowledgedEventsAreDeliveredAgainAfterTheSubscriberCrashes) {
  ASSERT_THAT(GrantInsurance(), IsOk());
  {
    Subscriber subscriber(federation_.ChannelAs(kInsuranceNode), kResidents);
    subscriber.WaitSubscribed();
    PublishResidents(5);
    ASSERT_EQ(subscriber.WaitFor(5).size(), 5u);
    ASSERT_TRUE(Ack(kInsuranceNode, kResidents, 2).ok());
    // The subscriber goes away without acknowledging #3-#5: its connection drops with it.
  }
  PublishResidents(2, 6);  // published while it is away
  Subscriber again(federation_.ChannelAs(kInsuranceNode), kResidents);
  EXPECT_EQ(Sequences(again.WaitFor(5)), Range(3, 7));
  ASSERT_TRUE(Ack(kInsuranceNode, kResidents, 7).ok());
  std::vector<v1::Subscription> subscriptions = Subscriptions(kInsuranceNode);
  ASSERT_EQ(subscriptions.size(), 1u);
  EXPECT_EQ(subscriptions[0].acknowledged_sequence(), 7u);
  EXPECT_EQ(subscriptions[0].head_sequence(), 7u);
  EXPECT_TRUE(subscriptions[0].connected());
}

// The real subscriber program: `ndxctl events subscribe --exec`, killed with SIGKILL while its
// handler runs, and started again.
TEST_F(EventsTest, EventOfASubscriberKilledInItsHandlerIsHandledAgain) {
  ASSERT_THAT(GrantInsurance(), IsOk());
  {
    Subscriber subscriber(federation_.ChannelAs(kInsuranceNode), kResidents);
    subscriber.WaitSubscribed();
  }
  PublishResidents(3);

  std::string profile = federation_.WriteProfile(kInsuranceNode);
  // Records each event it handles; the first time it handles #2 it waits for its parent (ndxctl)
  // to die, then fails, as a handler cut off by a crash would.
  std::string handled = federation_.dir().Join("handled.txt");
  std::string crashed = federation_.dir().Join("crashed");
  std::string handler = federation_.dir().Join("handler.sh");
  ASSERT_THAT(
      WriteFileAtomically(handler,
                          absl::StrCat("echo \"$NDX_EVENT_SEQUENCE $NDX_EVENT_KEY\" >> ", handled,
                                       "\n", "if [ \"$NDX_EVENT_SEQUENCE\" = 2 ] && [ ! -e ",
                                       crashed, " ]; then\n", "  touch ", crashed, "\n",
                                       "  while kill -0 $PPID 2>/dev/null; do sleep 0.05; done\n",
                                       "  exit 1\n", "fi\n"),
                          0644),
      IsOk());
  auto subscribe = [&](const std::string& log) {
    return ChildProcess::Start(NDX_CTL_BIN,
                               {"--profile", profile, "events", "subscribe", kResidents,
                                "--purpose", kPurpose, "--exec", "sh " + handler, "--count", "2"},
                               federation_.dir().Join(log));
  };
  auto lines = [&] { return ReadFile(handled).value_or(""); };

  absl::StatusOr<ChildProcess> first = subscribe("subscriber-1.log");
  ASSERT_THAT(first, IsOk());
  absl::Time give_up = absl::Now() + kWait;
  while (!absl::StrContains(lines(), "2 ") && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(lines(), "1 001090001001\n2 001090001002\n");
  first->Kill();

  absl::StatusOr<ChildProcess> second = subscribe("subscriber-2.log");
  ASSERT_THAT(second, IsOk());
  give_up = absl::Now() + kWait;
  while (!second->Exited() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_TRUE(second->Exited()) << "ndxctl did not stop after --count 2";
  EXPECT_EQ(lines(), "1 001090001001\n2 001090001002\n2 001090001002\n3 001090001003\n");
  EXPECT_EQ(Subscriptions(kInsuranceNode)[0].acknowledged_sequence(), 3u);
}

TEST_F(EventsTest, NewStreamOfTheSameSubscriptionTakesOverAndGetsTheUnacknowledged) {
  ASSERT_THAT(GrantInsurance(), IsOk());
  Subscriber first(federation_.ChannelAs(kInsuranceNode), kResidents);
  first.WaitSubscribed();
  PublishResidents(3);
  ASSERT_EQ(first.WaitFor(3).size(), 3u);
  ASSERT_TRUE(Ack(kInsuranceNode, kResidents, 1).ok());
  // A restarted subscriber whose old connection the gateway has not yet seen drop.
  Subscriber second(federation_.ChannelAs(kInsuranceNode), kResidents);
  grpc::Status ended = first.WaitEnd();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(ended.error_message(), HasSubstr("took over"));
  EXPECT_EQ(Sequences(second.WaitFor(2)), Range(2, 3));
}

TEST_F(EventsTest, EventsPublishedWhileTheGatewayWasDownAndUnacknowledgedOnesSurviveACrash) {
  ASSERT_THAT(GrantInsurance(), IsOk());
  {
    Subscriber subscriber(federation_.ChannelAs(kInsuranceNode), kResidents);
    subscriber.WaitSubscribed();
    PublishResidents(4);
    ASSERT_EQ(subscriber.WaitFor(4).size(), 4u);
    ASSERT_TRUE(Ack(kInsuranceNode, kResidents, 1).ok());
    federation_.KillGateway();
    EXPECT_EQ(subscriber.WaitEnd().error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  ASSERT_THAT(federation_.StartGateway(), IsOk());
  PublishResidents(2, 5);
  Subscriber subscriber(federation_.ChannelAs(kInsuranceNode), kResidents);
  std::vector<v1::SubscribeResponse> items = subscriber.WaitFor(5);
  EXPECT_EQ(Sequences(items), Range(2, 6));
  EXPECT_EQ(items[4].event().key(), "001090001006");
}

TEST_F(EventsTest, StoppingGatewayEndsStreamsWithUnavailableAndExitsCleanly) {
  ASSERT_THAT(GrantInsurance(), IsOk());
  Subscriber subscriber(federation_.ChannelAs(kInsuranceNode), kResidents);
  subscriber.WaitSubscribed();
  int status = federation_.StopGateway();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  grpc::Status ended = subscriber.WaitEnd();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(ended.error_message(), HasSubstr("subscribe again"));
}

TEST_F(EventsTest, RevokingTheGrantEndsTheStreamAndNothingIsDeliveredAfter) {
  absl::StatusOr<v1::Grant> grant = GrantInsurance();
  ASSERT_THAT(grant, IsOk());
  Subscriber subscriber(federation_.ChannelAs(kInsuranceNode), kResidents);
  subscriber.WaitSubscribed();
  PublishResidents(2);
  ASSERT_EQ(subscriber.WaitFor(2).size(), 2u);

  absl::StatusOr<v1::Grant> revoked =
      federation_.RevokeGrant(kPopulationNode, grant->id(), "enrolment finished");
  ASSERT_THAT(revoked, IsOk());

  grpc::Status ended = subscriber.WaitEnd();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(ended.error_message(),
              HasSubstr(absl::StrCat("grant ", grant->id(), " was revoked")));
  PublishResidents(2, 3);
  EXPECT_EQ(subscriber.Received().size(), 2u);

  Subscriber refused(federation_.ChannelAs(kInsuranceNode), kResidents);
  EXPECT_EQ(refused.WaitEnd().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(refused.Received().empty());
  EXPECT_THAT(federation_.DecisionLog(), HasSubstr("delivery stopped: grant"));

  // A new grant opens a new subscription: what was published without a grant in force is not
  // delivered.
  ASSERT_THAT(GrantInsurance(), IsOk());
  Subscriber renewed(federation_.ChannelAs(kInsuranceNode), kResidents);
  renewed.WaitSubscribed();
  PublishResidents(1, 5);
  std::vector<v1::SubscribeResponse> items = renewed.WaitFor(1);
  EXPECT_THAT(Sequences(items), ElementsAre(5));
}

TEST_F(EventsTest, NoEventReachesANodeWithoutAGrantInForce) {
  Subscriber no_grant(federation_.ChannelAs(kInsuranceNode), kResidents);
  grpc::Status status = no_grant.WaitEnd();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("has no grant on dataset mops/residents"));

  ASSERT_THAT(federation_.Grant(kCivilNode, kResidents, {"citizen_id"}, {kPurpose}, absl::Hours(24),
                                /*approve=*/false),
              IsOk());
  Subscriber unapproved(federation_.ChannelAs(kCivilNode), kResidents);
  EXPECT_THAT(unapproved.WaitEnd().error_message(), HasSubstr("awaiting approval"));

  ASSERT_THAT(GrantInsurance(), IsOk());
  Subscriber wrong_purpose(federation_.ChannelAs(kInsuranceNode), kResidents, "marketing");
  status = wrong_purpose.WaitEnd();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("purpose marketing is not covered"));

  Subscriber unknown(federation_.ChannelAs(kInsuranceNode), "mops/unknown");
  EXPECT_EQ(unknown.WaitEnd().error_code(), grpc::StatusCode::NOT_FOUND);

  PublishResidents(2);
  for (Subscriber* refused : {&no_grant, &unapproved, &wrong_purpose, &unknown}) {
    EXPECT_TRUE(refused->Received().empty());
  }
  EXPECT_EQ(Ack(kCivilNode, kResidents, 1).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Subscriptions(kCivilNode).empty());
}

// An event names its record by key, so it reaches only nodes whose grant covers the key field
// and the subscribe operation.
TEST_F(EventsTest, SubscribingNeedsTheKeyFieldAndTheSubscribeOperation) {
  ASSERT_THAT(federation_.Grant(kInsuranceNode, kResidents, {"full_name"}, {kPurpose}), IsOk());
  Subscriber without_key(federation_.ChannelAs(kInsuranceNode), kResidents);
  grpc::Status status = without_key.WaitEnd();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(),
              HasSubstr("events of mops/residents name their records by the key field "
                        "citizen_id"));

  ASSERT_THAT(federation_.Grant(kCivilNode, kResidents, {"citizen_id", "full_name"}, {kPurpose},
                                absl::Hours(24), /*approve=*/true,
                                {v1::OPERATION_READ, v1::OPERATION_QUERY}),
              IsOk());
  Subscriber reader_only(federation_.ChannelAs(kCivilNode), kResidents);
  status = reader_only.WaitEnd();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("operation subscribe is not allowed by grant"));

  PublishResidents(1);
  EXPECT_TRUE(without_key.Received().empty());
  EXPECT_TRUE(reader_only.Received().empty());
  EXPECT_TRUE(Subscriptions(kInsuranceNode).empty());
  EXPECT_TRUE(Subscriptions(kCivilNode).empty());
}

TEST_F(EventsTest, OnlyTheOwnerPublishesAndBadInputIsNamed) {
  grpc::Status status = Publish(kInsuranceNode, kResidents, "001090000001");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(),
              HasSubstr("only its owner mops/population publishes its events"));
  status = Publish(kPopulationNode, kResidents, "001090000001", "Residence Registered");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("event type \"Residence Registered\""));
  status = Publish(kPopulationNode, kResidents, "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("key is empty"));
  status = Publish(kPopulationNode, "mops/unknown", "1");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_THAT(GrantInsurance(), IsOk());
  Subscriber subscriber(federation_.ChannelAs(kInsuranceNode), kResidents);
  subscriber.WaitSubscribed();
  EXPECT_EQ(Ack(kInsuranceNode, kResidents, 9).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(EventsTest, EveryEventsCallIsAudited) {
  ASSERT_THAT(GrantInsurance(), IsOk());
  Subscriber subscriber(federation_.ChannelAs(kInsuranceNode), kResidents);
  subscriber.WaitSubscribed();
  PublishResidents(1);
  ASSERT_EQ(subscriber.WaitFor(1).size(), 1u);
  ASSERT_TRUE(Ack(kInsuranceNode, kResidents, 1).ok());
  std::string log = federation_.DecisionLog();
  EXPECT_THAT(log, HasSubstr("\"operation\":\"Events.Subscribe\""));
  EXPECT_THAT(log, HasSubstr("\"operation\":\"Events.Publish\""));
  EXPECT_THAT(log, HasSubstr("\"operation\":\"Events.Ack\""));
}

class EventsRetentionTest : public EventsTest {
 protected:
  void SetUp() override {
    StartFederation("events { retention_seconds: 1 expiry_interval_seconds: 1 }\n");
  }
};

TEST_F(EventsRetentionTest, ExpiredEventsAreReportedToTheSubscriber) {
  ASSERT_THAT(GrantInsurance(), IsOk());
  {
    Subscriber subscriber(federation_.ChannelAs(kInsuranceNode), kResidents);
    subscriber.WaitSubscribed();
  }
  PublishResidents(3);
  absl::Time give_up = absl::Now() + kWait;
  while (absl::Now() < give_up) {
    std::vector<v1::Subscription> subscriptions = Subscriptions(kInsuranceNode);
    if (!subscriptions.empty() && subscriptions[0].expired_events() == 3) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(Subscriptions(kInsuranceNode)[0].expired_events(), 3u);

  Subscriber subscriber(federation_.ChannelAs(kInsuranceNode), kResidents);
  std::vector<v1::SubscribeResponse> items = subscriber.WaitFor(1);
  ASSERT_EQ(items.size(), 1u);
  ASSERT_TRUE(items[0].has_expired());
  EXPECT_EQ(items[0].expired().first_sequence(), 1u);
  EXPECT_EQ(items[0].expired().last_sequence(), 3u);
  EXPECT_EQ(items[0].expired().retention_seconds(), 1u);
  ASSERT_TRUE(Ack(kInsuranceNode, kResidents, 3).ok());
  PublishResidents(1, 4);
  EXPECT_THAT(Sequences(subscriber.WaitFor(2)), ElementsAre(0, 4));
}

}  // namespace
}  // namespace ndx::testing
