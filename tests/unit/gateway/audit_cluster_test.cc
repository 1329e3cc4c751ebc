// The Audit service of a gateway cluster in this process: three replicas, each with its own log,
// registry and gRPC server on 127.0.0.1 (mTLS with the test PKI), wired with StaticMembership.

#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "audit/audit_log.h"
#include "audit/checkpoint.h"
#include "audit/checkpointer.h"
#include "audit/proof_verifier.h"
#include "cli/audit_commands.h"
#include "cli/gateway_client.h"
#include "cli/output.h"
#include "cluster/membership.h"
#include "common/proto_time.h"
#include "crypto/signing.h"
#include "crypto/spiffe_id.h"
#include "crypto/tls.h"
#include "gateway/audit_fanout.h"
#include "gateway/audit_service.h"
#include "registry/change_recorder.h"
#include "registry/registry_admin.h"
#include "registry/rocksdb_registry.h"
#include "testing/reserved_port.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"

namespace ndx::gateway {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::ndx::testing::TestPki;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kOperator[] = "platform/ops";
constexpr char kAuditor[] = "audit/office";
// Active, but not an auditor: the caller of the entries the tests look for.
constexpr char kReader[] = "moh/insurance";
constexpr char kSubject[] = "001090000001";
const absl::Time kStart = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

class AcceptingRecorder : public registry::ChangeRecorder {
 public:
  absl::Status Record(const v1::RegistryChange&) override { return absl::OkStatus(); }
  void RecordFailure(const v1::RegistryChange&, const absl::Status&) override {}
};

struct Replica {
  cluster::Member member;
  std::string origin;
  std::unique_ptr<registry::Registry> registry;
  std::unique_ptr<registry::RegistryAdmin> admin;
  std::unique_ptr<audit::AuditLog> log;
  std::unique_ptr<audit::Checkpointer> checkpointer;
  std::unique_ptr<cluster::StaticMembership> membership;
  std::unique_ptr<AuditPeers> peers;
  std::unique_ptr<AuditService> service;
  std::unique_ptr<grpc::Server> server;
};

class AuditClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The replicas' addresses are known before their services are made, since each names the
    // others.
    std::vector<cluster::Member> members;
    for (const char* id : {"a", "b", "c"}) {
      absl::StatusOr<::ndx::testing::ReservedPort> port = ::ndx::testing::ReservedPort::Reserve();
      ASSERT_THAT(port, IsOk());
      members.push_back({.replica_id = id, .address = absl::StrCat("127.0.0.1:", port->port())});
      ports_.push_back(*std::move(port));
    }
    for (const cluster::Member& member : members) {
      auto replica = std::make_unique<Replica>();
      ASSERT_NO_FATAL_FAILURE(StartReplica(member, members, *replica));
      replicas_[member.replica_id] = std::move(replica);
    }
  }

  void TearDown() override {
    for (auto& [id, replica] : replicas_) {
      if (replica->server != nullptr) replica->server->Shutdown(std::chrono::system_clock::now());
    }
  }

  void StartReplica(const cluster::Member& self, const std::vector<cluster::Member>& members,
                    Replica& replica) {
    const std::string dir = dir_.Join(self.replica_id);
    replica.member = self;
    replica.origin = absl::StrCat(TestPki::kTrustDomain, "/audit/", self.replica_id);
    absl::StatusOr<std::unique_ptr<registry::Registry>> registry =
        registry::OpenRocksDbRegistry(dir + "/registry");
    ASSERT_THAT(registry.status(), IsOk());
    replica.registry = *std::move(registry);
    replica.admin =
        std::make_unique<registry::RegistryAdmin>(replica.registry.get(), &Clock::Real());
    ASSERT_THAT(replica.admin->BootstrapOperators({std::string(kOperator)}, recorder_).status(),
                IsOk());
    RegisterNode(replica, kAuditor, v1::ROLE_AUDITOR);
    RegisterNode(replica, kReader, std::nullopt);

    // Every replica shares the pseudonym key, so a subject has one pseudonym in every log.
    absl::StatusOr<std::unique_ptr<audit::AuditLog>> log =
        audit::AuditLog::Open({.dir = dir + "/audit",
                               .durability = audit::AuditLogOptions::Durability::kProcessCrash,
                               .pseudonym_key = std::string(32, 'p')});
    ASSERT_THAT(log.status(), IsOk());
    replica.log = *std::move(log);
    absl::StatusOr<crypto::SigningKey> key = crypto::SigningKey::Generate();
    ASSERT_THAT(key.status(), IsOk());
    absl::StatusOr<std::unique_ptr<audit::Checkpointer>> checkpointer =
        audit::Checkpointer::Start(replica.log.get(), *std::move(key),
                                   {.origin = replica.origin,
                                    .key_name = replica.origin,
                                    .state_file = dir + "/checkpoint.note",
                                    .interval = absl::ZeroDuration()});
    ASSERT_THAT(checkpointer.status(), IsOk());
    replica.checkpointer = *std::move(checkpointer);

    replica.membership = std::make_unique<cluster::StaticMembership>(self, members);
    absl::StatusOr<std::unique_ptr<AuditPeers>> peers = AuditPeers::Create(
        {.membership = replica.membership.get(),
         .tls = pki_.Gateway("core"),
         .gateway_identity = crypto::SpiffeId::Gateway(TestPki::kTrustDomain, "core"),
         .timeout = absl::Seconds(5)});
    ASSERT_THAT(peers.status(), IsOk());
    replica.peers = *std::move(peers);
    replica.service = std::make_unique<AuditService>(
        CallerPolicy{.trust_domain = TestPki::kTrustDomain}, replica.registry.get(),
        replica.log.get(), replica.checkpointer.get(), replica.log.get(), &Clock::Real(),
        /*node_limits=*/nullptr, replica.peers.get());
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        crypto::MakeServerCredentials(pki_.Gateway("core"), TestPki::kTrustDomain);
    ASSERT_THAT(credentials.status(), IsOk());
    grpc::ServerBuilder builder;
    builder.AddListeningPort(self.address, *credentials);
    builder.RegisterService(replica.service.get());
    replica.server = builder.BuildAndStart();
    ASSERT_NE(replica.server, nullptr) << self.address;
  }

  void RegisterNode(Replica& replica, const std::string& id, std::optional<v1::Role> role) {
    v1::RegisterNodeRequest request;
    request.mutable_node()->set_id(id);
    request.mutable_node()->set_display_name(id);
    request.mutable_node()->set_kind(v1::NODE_KIND_MINISTRY);
    request.mutable_node()->set_state(v1::NODE_STATE_ACTIVE);
    if (role.has_value()) request.mutable_node()->add_roles(*role);
    ASSERT_THAT(replica.admin->RegisterNode(kOperator, request, recorder_).status(), IsOk());
  }

  // A read by kReader at kStart + `second`, about `subjects`, in the log of `replica`.
  void AppendRead(const std::string& replica, int64_t second,
                  std::vector<std::string> subjects = {}) {
    audit::AuditRecord record;
    record.time = kStart + absl::Seconds(second);
    record.request_id = absl::StrCat("r-", replica, "-", second);
    record.caller = kReader;
    record.dataset = "mops/residents";
    record.operation = "Get";
    record.purpose = "insurance";
    record.allowed = true;
    record.subjects = std::move(subjects);
    absl::Status appended;
    absl::Notification done;
    replicas_.at(replica)->log->Append(std::move(record), [&](absl::Status status) {
      appended = status;
      done.Notify();
    });
    done.WaitForNotification();
    ASSERT_THAT(appended, IsOk());
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& replica,
                                         const crypto::TlsFilePaths& identity) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        crypto::MakeChannelCredentials(identity,
                                       crypto::SpiffeId::Gateway(TestPki::kTrustDomain, "core"));
    EXPECT_THAT(credentials.status(), IsOk());
    return grpc::CreateChannel(replicas_.at(replica)->member.address, *credentials);
  }

  std::unique_ptr<v1::Audit::Stub> AuditorStub(const std::string& replica) {
    return v1::Audit::NewStub(Channel(replica, pki_.Node(kAuditor)));
  }

  static void Deadline(grpc::ClientContext& context) {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }

  // Every page of the reads by kReader, through `replica`, `page_size` at a time; `between`
  // runs after each page.
  std::vector<std::pair<std::string, v1::AuditEntry>> ReadAll(
      const std::string& replica, int page_size, const std::function<void()>& between = {}) {
    std::unique_ptr<v1::Audit::Stub> stub = AuditorStub(replica);
    v1::QueryEntriesRequest request;
    request.set_caller(kReader);
    request.set_page_size(page_size);
    std::vector<std::pair<std::string, v1::AuditEntry>> all;
    for (int page = 0; page < 100; ++page) {
      grpc::ClientContext context;
      Deadline(context);
      v1::QueryEntriesResponse response;
      grpc::Status status = stub->QueryEntries(&context, request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      EXPECT_THAT(response.entries(), SizeIs(response.entry_logs_size()));
      EXPECT_LE(response.entries_size(), page_size);
      EXPECT_THAT(response.unavailable_logs(), SizeIs(0));
      for (int i = 0; i < response.entries_size(); ++i) {
        all.emplace_back(response.entry_logs(i), response.entries(i));
      }
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
      if (between) between();
    }
    return all;
  }

  const Replica& replica(const std::string& id) { return *replicas_.at(id); }

  ::ndx::testing::TempDir dir_;
  TestPki pki_;
  AcceptingRecorder recorder_;
  std::vector<::ndx::testing::ReservedPort> ports_;
  std::map<std::string, std::unique_ptr<Replica>> replicas_;
};

TEST_F(AuditClusterTest, QueryThroughAnyReplicaMergesEveryLogWithoutLossOrDuplicates) {
  // Interleaved in time across the logs: a at 0, 3, 6, ...; b at 1, 4, ...; c at 2, 5, ...
  std::map<std::string, int> counts = {{"a", 7}, {"b", 5}, {"c", 3}};
  for (const auto& [id, count] : counts) {
    int offset = id == "a" ? 0 : id == "b" ? 1 : 2;
    for (int i = 0; i < count; ++i) ASSERT_NO_FATAL_FAILURE(AppendRead(id, 3 * i + offset));
  }
  int later = 1000;
  for (const char* through : {"a", "b", "c"}) {
    const int b_entries = 5 + (later - 1000);
    // Entries appended between pages, newer than any, belong to a later query: the pages of
    // this one read each log at the size it had on the first page.
    std::vector<std::pair<std::string, v1::AuditEntry>> all =
        ReadAll(through, 4, [&] { AppendRead("b", ++later); });
    std::set<std::pair<std::string, uint64_t>> seen;
    std::map<std::string, int> per_log;
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_TRUE(seen.insert({all[i].first, all[i].second.sequence()}).second)
          << "duplicate " << all[i].first << " #" << all[i].second.sequence();
      ++per_log[all[i].first];
      if (i > 0) {
        EXPECT_GE(FromProtoTime(all[i - 1].second.time()), FromProtoTime(all[i].second.time()))
            << "entry " << i << " through " << through << " is out of time order";
      }
    }
    EXPECT_THAT(per_log, ElementsAre(std::pair(replica("a").origin, 7),
                                     std::pair(replica("b").origin, b_entries),
                                     std::pair(replica("c").origin, 3)))
        << "through " << through;
  }
}

TEST_F(AuditClusterTest, SubjectQueryFindsTheSubjectInEveryLog) {
  ASSERT_NO_FATAL_FAILURE(AppendRead("a", 1, {kSubject}));
  ASSERT_NO_FATAL_FAILURE(AppendRead("b", 2, {"001090000002"}));
  ASSERT_NO_FATAL_FAILURE(AppendRead("c", 3, {kSubject}));
  v1::QueryEntriesRequest request;
  request.set_subject(kSubject);
  request.set_caller(kReader);
  grpc::ClientContext context;
  Deadline(context);
  v1::QueryEntriesResponse response;
  grpc::Status status = AuditorStub("b")->QueryEntries(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_THAT(response.entries(), SizeIs(2));
  EXPECT_THAT(response.entry_logs(), ElementsAre(replica("c").origin, replica("a").origin));
  EXPECT_EQ(response.entries(0).request_id(), "r-c-3");
  EXPECT_EQ(response.entries(1).request_id(), "r-a-1");
  EXPECT_TRUE(response.next_page_token().empty());

  // Each replica recorded the question in its own log, under the subject's pseudonym, with the
  // auditor as the caller; those asked by another replica say through which identity.
  for (const char* id : {"a", "b", "c"}) {
    audit::AuditQuery recorded;
    recorded.caller = kAuditor;
    recorded.subject = kSubject;
    absl::StatusOr<audit::AuditQueryResult> found = replicas_.at(id)->log->Query(recorded, "", 10);
    ASSERT_THAT(found.status(), IsOk());
    ASSERT_THAT(found->entries, SizeIs(1)) << id;
    const v1::AuditEntry& entry = found->entries[0].entry;
    EXPECT_EQ(entry.operation(), "Audit.QueryEntries");
    EXPECT_EQ(entry.decision(), v1::AuditEntry::DECISION_ALLOW);
    EXPECT_EQ(entry.via(), id == "b" ? "" : "spiffe://ndx.test/gateway/core") << id;
  }
}

TEST_F(AuditClusterTest, CheckpointAndInclusionProofOfAnotherLogVerifyUnderItsKey) {
  for (int i = 0; i < 5; ++i) ASSERT_NO_FATAL_FAILURE(AppendRead("b", i));
  std::unique_ptr<v1::Audit::Stub> stub = AuditorStub("a");
  v1::GetCheckpointRequest checkpoint_request;
  checkpoint_request.set_log(replica("b").origin);
  checkpoint_request.set_sign_now(true);
  grpc::ClientContext context;
  Deadline(context);
  v1::SignedCheckpoint signed_checkpoint;
  grpc::Status status = stub->GetCheckpoint(&context, checkpoint_request, &signed_checkpoint);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(signed_checkpoint.log(), replica("b").origin);
  EXPECT_EQ(signed_checkpoint.replica_id(), "b");

  absl::StatusOr<audit::VerifierKey> key_b =
      audit::ParseVerifierKey(replica("b").checkpointer->VerifierKeyText());
  ASSERT_THAT(key_b.status(), IsOk());
  absl::StatusOr<audit::Checkpoint> checkpoint =
      audit::VerifyCheckpoint(signed_checkpoint.note(), *key_b);
  ASSERT_THAT(checkpoint.status(), IsOk());
  EXPECT_EQ(checkpoint->origin, replica("b").origin);
  EXPECT_GE(checkpoint->size, 5u);
  // Not under a's key: the answer is b's, only relayed.
  absl::StatusOr<audit::VerifierKey> key_a =
      audit::ParseVerifierKey(replica("a").checkpointer->VerifierKeyText());
  ASSERT_THAT(key_a.status(), IsOk());
  EXPECT_THAT(audit::VerifyCheckpoint(signed_checkpoint.note(), *key_a).status(),
              StatusIs(absl::StatusCode::kUnauthenticated));

  v1::GetInclusionProofRequest proof_request;
  proof_request.set_log(replica("b").origin);
  proof_request.set_sequence(3);
  proof_request.set_tree_size(checkpoint->size);
  grpc::ClientContext proof_context;
  Deadline(proof_context);
  v1::InclusionProof proof;
  status = stub->GetInclusionProof(&proof_context, proof_request, &proof);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(proof.log(), replica("b").origin);
  std::vector<audit::Hash> hashes;
  for (const std::string& bytes : proof.hashes()) {
    ASSERT_EQ(bytes.size(), 32u);
    audit::Hash hash;
    std::copy(bytes.begin(), bytes.end(), hash.begin());
    hashes.push_back(hash);
  }
  EXPECT_THAT(audit::VerifyInclusion(audit::LeafHash(proof.entry()), 3, checkpoint->size, hashes,
                                     checkpoint->root),
              IsOk());
  v1::AuditEntry entry;
  ASSERT_TRUE(entry.ParseFromString(proof.entry()));
  EXPECT_EQ(entry.request_id(), "r-b-3");

  // A log nobody keeps is named as such.
  v1::GetCheckpointRequest unknown;
  unknown.set_log("ndx.test/audit/zz");
  grpc::ClientContext unknown_context;
  Deadline(unknown_context);
  status = stub->GetCheckpoint(&unknown_context, unknown, &signed_checkpoint);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("no live replica keeps log ndx.test/audit/zz"));
}

TEST_F(AuditClusterTest, StoppedReplicaIsListedAsUnavailable) {
  ASSERT_NO_FATAL_FAILURE(AppendRead("a", 1));
  ASSERT_NO_FATAL_FAILURE(AppendRead("b", 2));
  ASSERT_NO_FATAL_FAILURE(AppendRead("c", 3));
  std::unique_ptr<v1::Audit::Stub> stub = AuditorStub("a");
  {
    grpc::ClientContext context;
    Deadline(context);
    v1::ListLogsResponse listed;
    grpc::Status status = stub->ListLogs(&context, v1::ListLogsRequest(), &listed);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_THAT(listed.logs(), SizeIs(3));
    for (int i = 0; i < 3; ++i) {
      const Replica& expected = replica(std::string(1, static_cast<char>('a' + i)));
      EXPECT_EQ(listed.logs(i).replica_id(), expected.member.replica_id);
      EXPECT_EQ(listed.logs(i).log(), expected.origin);
      EXPECT_EQ(listed.logs(i).verifier_key(), expected.checkpointer->VerifierKeyText());
    }
    EXPECT_THAT(listed.unavailable_logs(), SizeIs(0));
  }
  replicas_.at("c")->server->Shutdown(std::chrono::system_clock::now());
  replicas_.at("c")->server.reset();

  v1::QueryEntriesRequest request;
  request.set_caller(kReader);
  grpc::ClientContext context;
  Deadline(context);
  v1::QueryEntriesResponse response;
  grpc::Status status = stub->QueryEntries(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(response.entry_logs(), ElementsAre(replica("b").origin, replica("a").origin));
  ASSERT_THAT(response.unavailable_logs(), SizeIs(1));
  EXPECT_EQ(response.unavailable_logs(0).replica_id(), "c");
  EXPECT_EQ(response.unavailable_logs(0).log(), replica("c").origin);
  EXPECT_THAT(response.unavailable_logs(0).reason(), HasSubstr("UNAVAILABLE"));

  grpc::ClientContext list_context;
  Deadline(list_context);
  v1::ListLogsResponse listed;
  status = stub->ListLogs(&list_context, v1::ListLogsRequest(), &listed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(listed.logs(), SizeIs(2));
  ASSERT_THAT(listed.unavailable_logs(), SizeIs(1));
  EXPECT_EQ(listed.unavailable_logs(0).log(), replica("c").origin);
}

// Calls `replica` as `identity`, acting for `auditor`.
grpc::Status ActingFor(const std::shared_ptr<grpc::Channel>& channel, const std::string& auditor,
                       v1::QueryEntriesResponse* response) {
  grpc::ClientContext context;
  context.AddMetadata(kActingForMetadata, auditor);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return v1::Audit::NewStub(channel)->QueryEntries(&context, v1::QueryEntriesRequest(), response);
}

TEST_F(AuditClusterTest, OnlyTheGatewayIdentityMayActForAnAuditor) {
  ASSERT_NO_FATAL_FAILURE(AppendRead("a", 1));
  ASSERT_NO_FATAL_FAILURE(AppendRead("b", 2));
  v1::QueryEntriesResponse response;
  // An auditor node may not pass itself off as a replica, not even for itself.
  grpc::Status status = ActingFor(Channel("a", pki_.Node(kAuditor)), kAuditor, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("may not act for an auditor"));

  // The gateway identity is answered from the called replica's own log only.
  std::shared_ptr<grpc::Channel> as_gateway = Channel("a", pki_.Gateway("core"));
  status = ActingFor(as_gateway, kAuditor, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(response.entry_logs(), SizeIs(0));
  ASSERT_THAT(response.logs(), SizeIs(1));
  EXPECT_EQ(response.logs(0).log(), replica("a").origin);
  for (const v1::AuditEntry& entry : response.entries()) {
    EXPECT_NE(entry.request_id(), "r-b-2") << "a replica acting for an auditor got another's log";
  }

  // ... and only for a node that this replica's registry says is an active auditor.
  status = ActingFor(as_gateway, kReader, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("does not hold the auditor role"));
  status = ActingFor(as_gateway, "nobody/here", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // Without the metadata the gateway identity is no auditor at all.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  status =
      v1::Audit::NewStub(as_gateway)->QueryEntries(&context, v1::QueryEntriesRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // Each refusal is in a's log, naming who was refused.
  audit::AuditQuery refused;
  refused.decision = v1::AuditEntry::DECISION_DENY;
  absl::StatusOr<audit::AuditQueryResult> found = replica("a").log->Query(refused, "", 10);
  ASSERT_THAT(found.status(), IsOk());
  std::vector<std::string> callers;
  for (const audit::LoggedEntry& logged : found->entries) callers.push_back(logged.entry.caller());
  EXPECT_THAT(callers, ElementsAre("", "nobody/here", kReader, kAuditor));
}

TEST_F(AuditClusterTest, CliVerifiesEveryLogAndSaysWhichCouldNotBe) {
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(AppendRead("a", i));
  for (int i = 0; i < 4; ++i) ASSERT_NO_FATAL_FAILURE(AppendRead("b", i));
  // The operator hands out one key per log; the auditor pins all of them.
  cli::AuditVerifyOptions options;
  for (const char* id : {"a", "b", "c"}) {
    options.keys.push_back(replica(id).checkpointer->VerifierKeyText());
  }
  options.state = dir_.Join("auditor/audit-state.json");
  auto verify = [&](std::string& out) {
    std::ostringstream out_stream;
    std::ostringstream err_stream;
    cli::CommandContext context(out_stream, err_stream, cli::OutputFormat::kTable, nullptr);
    absl::Status status = cli::AuditVerify(
        options,
        [&]() -> absl::StatusOr<std::unique_ptr<cli::GatewayClient>> {
          return std::make_unique<cli::GatewayClient>(Channel("a", pki_.Node(kAuditor)), 20000);
        },
        context);
    out = out_stream.str();
    return status;
  };
  std::string out;
  ASSERT_THAT(verify(out), IsOk()) << out;
  for (const char* id : {"a", "b", "c"}) {
    EXPECT_THAT(out, HasSubstr(absl::StrCat(replica(id).origin, " (replica ", id,
                                            "): verified up to size")))
        << out;
    EXPECT_TRUE(std::filesystem::exists(cli::ClusterStatePath(options.state, replica(id).origin)))
        << id;
  }
  // b's log was verified through a from its own checkpoint: the first run checked its entries.
  EXPECT_THAT(out, HasSubstr("first run"));

  ASSERT_NO_FATAL_FAILURE(AppendRead("b", 10));
  replicas_.at("c")->server->Shutdown(std::chrono::system_clock::now());
  replicas_.at("c")->server.reset();
  absl::Status status = verify(out);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("1 of 3 logs")));
  EXPECT_FALSE(cli::IsVerificationFailure(status));
  EXPECT_THAT(out, HasSubstr(absl::StrCat(replica("a").origin, " (replica a): verified")));
  EXPECT_THAT(out, HasSubstr(absl::StrCat(replica("b").origin, " (replica b): verified")));
  EXPECT_THAT(out, HasSubstr("consistency ok"));
  EXPECT_THAT(
      out, HasSubstr(absl::StrCat(replica("c").origin, " (replica c): NOT verified: unreachable")))
      << out;
}

TEST(AuditSingleGatewayTest, RefusesCallsActingForAnAuditor) {
  ::ndx::testing::TempDir dir;
  TestPki pki;
  AcceptingRecorder recorder;
  absl::StatusOr<std::unique_ptr<registry::Registry>> registry =
      registry::OpenRocksDbRegistry(dir.Join("registry"));
  ASSERT_THAT(registry.status(), IsOk());
  registry::RegistryAdmin admin(registry->get(), &Clock::Real());
  ASSERT_THAT(admin.BootstrapOperators({std::string(kOperator)}, recorder).status(), IsOk());
  absl::StatusOr<std::unique_ptr<audit::AuditLog>> log =
      audit::AuditLog::Open({.dir = dir.Join("audit"), .pseudonym_key = std::string(32, 'p')});
  ASSERT_THAT(log.status(), IsOk());
  absl::StatusOr<crypto::SigningKey> key = crypto::SigningKey::Generate();
  ASSERT_THAT(key.status(), IsOk());
  absl::StatusOr<std::unique_ptr<audit::Checkpointer>> checkpointer =
      audit::Checkpointer::Start(log->get(), *std::move(key),
                                 {.origin = "ndx.test/audit",
                                  .key_name = "ndx.test/audit",
                                  .state_file = dir.Join("checkpoint.note"),
                                  .interval = absl::ZeroDuration()});
  ASSERT_THAT(checkpointer.status(), IsOk());
  AuditService service(CallerPolicy{.trust_domain = TestPki::kTrustDomain}, registry->get(),
                       log->get(), checkpointer->get(), log->get(), &Clock::Real());
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      crypto::MakeServerCredentials(pki.Gateway("core"), TestPki::kTrustDomain);
  ASSERT_THAT(credentials.status(), IsOk());
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", *credentials, &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> channel_credentials =
      crypto::MakeChannelCredentials(pki.Gateway("core"),
                                     crypto::SpiffeId::Gateway(TestPki::kTrustDomain, "core"));
  ASSERT_THAT(channel_credentials.status(), IsOk());
  v1::QueryEntriesResponse response;
  grpc::Status status =
      ActingFor(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), *channel_credentials),
                kOperator, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("only the replicas of this gateway cluster"));
  server->Shutdown(std::chrono::system_clock::now());
}

}  // namespace
}  // namespace ndx::gateway
