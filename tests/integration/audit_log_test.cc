// The tamper-evident access log, end to end: real gateway and adapter processes, the Audit API,
// kill -9 under load, and ndxctl audit verify against altered and rewritten logs.

#include "audit/audit_log.h"

#include <grpcpp/client_context.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "audit/checkpoint.h"
#include "audit/proof_verifier.h"
#include "common/files.h"
#include "integration/federation.h"
#include "ndx/v1/audit.grpc.pb.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kPurpose[] = "health-insurance-enrolment";

class AuditLogTest : public ::testing::Test {
 protected:
  void StartFederation(const std::string& extra_config = "") {
    extra_config_ = extra_config;
    ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
    ASSERT_THAT(federation_.StartGateway(absl::Seconds(2), 0, extra_config_), IsOk());
    ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
    ASSERT_THAT(federation_.RegisterAuditor(), IsOk());
    ASSERT_THAT(
        federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
        IsOk());
  }

  grpc::Status Read(const std::string& key, v1::GetResponse* response) {
    v1::GetRequest request;
    request.set_dataset(kResidents);
    request.set_key(key);
    request.set_purpose(kPurpose);
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    return exchange_->Get(&context, request, response);
  }

  std::unique_ptr<v1::Audit::Stub> AuditAs(const std::string& node) {
    return v1::Audit::NewStub(federation_.ChannelAs(node));
  }

  v1::SignedCheckpoint Checkpoint(bool sign_now) {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::GetCheckpointRequest request;
    request.set_sign_now(sign_now);
    v1::SignedCheckpoint checkpoint;
    grpc::Status status = AuditAs(kAuditorNode)->GetCheckpoint(&context, request, &checkpoint);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return checkpoint;
  }

  std::vector<std::string> ExportAll() {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(30));
    auto reader = AuditAs(kAuditorNode)->ExportEntries(&context, v1::ExportEntriesRequest());
    std::vector<std::string> entries;
    v1::ExportedEntry exported;
    while (reader->Read(&exported)) {
      EXPECT_EQ(exported.sequence(), entries.size());
      entries.push_back(exported.entry());
    }
    grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return entries;
  }

  audit::VerifierKey VerifierKey() {
    std::string text = *ReadFile(federation_.audit_dir() + "/verifier.key");
    auto key = audit::ParseVerifierKey(absl::StripAsciiWhitespace(text));
    EXPECT_THAT(key, IsOk());
    return *key;
  }

  // Runs ndxctl as the auditor; returns its exit code and output.
  int Ndxctl(const std::string& args, std::string* output) {
    std::string profile = federation_.WriteProfile(kAuditorNode);
    std::string out_file = federation_.dir().Join("ndxctl.out");
    std::string command =
        absl::StrCat(NDX_CTL_BIN, " --profile ", profile, " ", args, " > ", out_file, " 2>&1");
    int status = std::system(command.c_str());
    *output = ReadFile(out_file).value_or("");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void KillUnderLoadAndCheck();
  void ExpectVerifyToCatch(const std::function<void(audit::AuditLog&)>& tamper);

  Federation federation_;
  std::string extra_config_;
  std::unique_ptr<v1::Exchange::Stub> exchange_ = nullptr;
};

TEST_F(AuditLogTest, OnlyAuditorsMayUseTheAuditApi) {
  StartFederation();
  for (const char* node : {kInsuranceNode, kPopulationNode, kOperatorNode}) {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(10));
    v1::QueryEntriesResponse response;
    grpc::Status status =
        AuditAs(node)->QueryEntries(&context, v1::QueryEntriesRequest(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << node;
    EXPECT_THAT(status.error_message(), HasSubstr("auditor"));
  }
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::QueryEntriesResponse response;
  grpc::Status status =
      AuditAs(kAuditorNode)->QueryEntries(&context, v1::QueryEntriesRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // The refusals themselves were logged.
  bool saw_refusal = false;
  for (const v1::AuditEntry& entry : response.entries()) {
    saw_refusal |= entry.operation() == "Audit.QueryEntries" && entry.caller() == kInsuranceNode &&
                   entry.decision() == v1::AuditEntry::DECISION_DENY;
  }
  EXPECT_TRUE(saw_refusal);
}

TEST_F(AuditLogTest, WhoReadACitizensDataIsOneQuery) {
  StartFederation();
  exchange_ = federation_.ExchangeAs(kInsuranceNode);
  v1::GetResponse response;
  ASSERT_TRUE(Read("001090000001", &response).ok());
  ASSERT_TRUE(Read("001090000001", &response).ok());
  ASSERT_TRUE(Read("001090000002", &response).ok());

  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::QueryEntriesRequest request;
  request.set_subject("001090000001");
  v1::QueryEntriesResponse found;
  ASSERT_TRUE(AuditAs(kAuditorNode)->QueryEntries(&context, request, &found).ok());
  ASSERT_EQ(found.entries_size(), 2);
  for (const v1::AuditEntry& entry : found.entries()) {
    EXPECT_EQ(entry.caller(), kInsuranceNode);
    EXPECT_EQ(entry.dataset(), kResidents);
    EXPECT_EQ(entry.purpose(), kPurpose);
    EXPECT_EQ(entry.decision(), v1::AuditEntry::DECISION_ALLOW);
    EXPECT_THAT(entry.fields(), ::testing::ElementsAre("citizen_id", "full_name"));
    ASSERT_EQ(entry.subject_pseudonyms_size(), 1);
    // The log holds a pseudonym, never the identifier.
    EXPECT_NE(entry.subject_pseudonyms(0), "001090000001");
    EXPECT_EQ(entry.subject_pseudonyms(0).size(), 64u);
  }
}

// Reads in a loop from several threads until the gateway dies; returns the request ids of the
// reads that were answered OK.
absl::flat_hash_set<std::string> ReadUntilKilled(Federation& federation,
                                                 absl::Duration kill_after) {
  absl::Mutex mutex;
  absl::flat_hash_set<std::string> answered;
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      auto exchange = federation.ExchangeAs(kInsuranceNode);
      for (int i = 0; i < 100000 && !stop; ++i) {
        v1::GetRequest request;
        request.set_dataset(kResidents);
        request.set_key(i % 2 == 0 ? "001090000001" : "079090000003");
        request.set_purpose(kPurpose);
        grpc::ClientContext context;
        SetTimeout(&context, absl::Seconds(2));
        v1::GetResponse response;
        if (exchange->Get(&context, request, &response).ok()) {
          absl::MutexLock lock(&mutex);
          answered.insert(response.request_id());
        } else {
          absl::SleepFor(absl::Milliseconds(5));
        }
      }
    });
  }
  absl::SleepFor(kill_after);
  federation.KillGateway();
  absl::SleepFor(absl::Milliseconds(200));
  stop = true;
  for (std::thread& reader : readers) reader.join();
  return answered;
}

// Kills the gateway with SIGKILL in the middle of a read load, restarts it, and checks that every
// answered read has its entry and that the log still verifies against a checkpoint signed before.
void AuditLogTest::KillUnderLoadAndCheck() {
  v1::SignedCheckpoint before = Checkpoint(true);
  absl::flat_hash_set<std::string> answered =
      ReadUntilKilled(federation_, absl::Milliseconds(1500));
  ASSERT_GT(answered.size(), 20u) << "the load did not get going";

  ASSERT_THAT(federation_.StartGateway(absl::Seconds(2), 0, extra_config_), IsOk());
  v1::SignedCheckpoint after = Checkpoint(true);
  std::vector<std::string> entries = ExportAll();

  // Every answered read has its entry.
  absl::flat_hash_set<std::string> logged;
  for (const std::string& bytes : entries) {
    v1::AuditEntry entry;
    ASSERT_TRUE(entry.ParseFromString(bytes));
    logged.insert(entry.request_id());
  }
  size_t missing = 0;
  for (const std::string& id : answered) missing += logged.contains(id) ? 0 : 1;
  EXPECT_EQ(missing, 0u) << "of " << answered.size() << " answered reads";

  // The checkpoints verify, are consistent, and commit to exactly the exported entries.
  audit::VerifierKey key = VerifierKey();
  auto old_checkpoint = audit::VerifyCheckpoint(before.note(), key);
  auto new_checkpoint = audit::VerifyCheckpoint(after.note(), key);
  ASSERT_THAT(old_checkpoint, IsOk());
  ASSERT_THAT(new_checkpoint, IsOk());
  ASSERT_GE(entries.size(), new_checkpoint->size);
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(10));
  v1::GetConsistencyProofRequest request;
  request.set_old_size(old_checkpoint->size);
  request.set_new_size(new_checkpoint->size);
  v1::ConsistencyProof proof;
  ASSERT_TRUE(AuditAs(kAuditorNode)->GetConsistencyProof(&context, request, &proof).ok());
  std::vector<audit::Hash> hashes;
  for (const std::string& hash : proof.hashes()) {
    audit::Hash h;
    ASSERT_EQ(hash.size(), h.size());
    std::copy(hash.begin(), hash.end(), h.begin());
    hashes.push_back(h);
  }
  EXPECT_THAT(audit::VerifyConsistency(old_checkpoint->size, new_checkpoint->size,
                                       old_checkpoint->root, new_checkpoint->root, hashes),
              IsOk());
  audit::InMemoryHashStore store;
  auto tree = audit::MerkleTree::Open(&store, 0);
  ASSERT_THAT(tree, IsOk());
  std::vector<std::string> committed(entries.begin(), entries.begin() + new_checkpoint->size);
  ASSERT_THAT(tree->Append(committed), IsOk());
  EXPECT_EQ(*tree->Root(new_checkpoint->size), new_checkpoint->root);
}

TEST_F(AuditLogTest, KillDashNineLosesNoAnsweredReadProcessCrashDurable) {
  StartFederation("audit { durability: DURABILITY_PROCESS_CRASH }\n");
  KillUnderLoadAndCheck();
}

TEST_F(AuditLogTest, KillDashNineLosesNoAnsweredReadPowerLossDurable) {
  StartFederation();
  KillUnderLoadAndCheck();
}

// Verifies the log with ndxctl, lets `tamper` change the stopped gateway's log on disk, and
// expects the next verification to fail (exit 4) without moving the trusted state.
void AuditLogTest::ExpectVerifyToCatch(const std::function<void(audit::AuditLog&)>& tamper) {
  exchange_ = federation_.ExchangeAs(kInsuranceNode);
  v1::GetResponse response;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Read("001090000001", &response).ok());
  std::string key_file = federation_.audit_dir() + "/verifier.key";
  std::string state = federation_.dir().Join("audit-state.json");
  std::string verify = absl::StrCat("audit verify --key ", key_file, " --state ", state, " --full");
  std::string output;
  ASSERT_EQ(Ndxctl(verify, &output), 0) << output;

  federation_.StopGateway();
  {
    audit::AuditLogOptions options;
    options.dir = federation_.audit_dir() + "/log";
    options.pseudonym_key = *ReadFile(federation_.audit_dir() + "/pseudonym.key");
    auto log = audit::AuditLog::Open(options);
    ASSERT_THAT(log, IsOk());
    tamper(**log);
  }
  ASSERT_THAT(federation_.StartGateway(), IsOk());
  std::string before = *ReadFile(state);
  EXPECT_EQ(Ndxctl(verify, &output), 4) << output;
  EXPECT_EQ(*ReadFile(state), before) << "a failed verification must not move the trust";
}

TEST_F(AuditLogTest, VerifyDetectsAnAlteredEntry) {
  StartFederation();
  // Someone with access to the disk rewrites who made read 3.
  ExpectVerifyToCatch([](audit::AuditLog& log) {
    auto entry = log.Entry(3);
    ASSERT_THAT(entry, IsOk());
    v1::AuditEntry altered = entry->entry;
    altered.set_caller("moj/civil-status");
    ASSERT_THAT(log.OverwriteEntryBytesForTest(3, altered.SerializeAsString()), IsOk());
  });
}

TEST_F(AuditLogTest, VerifyDetectsARemovedEntry) {
  StartFederation();
  ExpectVerifyToCatch([](audit::AuditLog& log) { ASSERT_THAT(log.DeleteEntryForTest(3), IsOk()); });
}

TEST_F(AuditLogTest, VerifyDetectsRewrittenHistory) {
  StartFederation();
  exchange_ = federation_.ExchangeAs(kInsuranceNode);
  v1::GetResponse response;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Read("001090000001", &response).ok());
  std::string key_file = federation_.dir().Join("verifier.key");
  ASSERT_THAT(
      WriteFileAtomically(key_file, *ReadFile(federation_.audit_dir() + "/verifier.key"), 0644),
      IsOk());
  std::string state = federation_.dir().Join("audit-state.json");
  std::string output;
  ASSERT_EQ(Ndxctl(absl::StrCat("audit verify --key ", key_file, " --state ", state), &output), 0)
      << output;

  // The operator throws the log away, and its last checkpoint with it, keeping the signing key:
  // the gateway signs a new history from scratch.
  federation_.StopGateway();
  std::filesystem::remove_all(federation_.audit_dir() + "/log");
  std::filesystem::remove(federation_.audit_dir() + "/checkpoint.note");
  ASSERT_THAT(federation_.StartGateway(), IsOk());
  exchange_ = federation_.ExchangeAs(kInsuranceNode);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(Read("079090000003", &response).ok());
  std::string before = *ReadFile(state);
  EXPECT_EQ(Ndxctl(absl::StrCat("audit verify --key ", key_file, " --state ", state), &output), 4)
      << output;
  EXPECT_EQ(*ReadFile(state), before);
}

TEST_F(AuditLogTest, GatewayRefusesToStartOnALogThatLostEntries) {
  StartFederation();
  exchange_ = federation_.ExchangeAs(kInsuranceNode);
  v1::GetResponse response;
  ASSERT_TRUE(Read("001090000001", &response).ok());
  Checkpoint(true);
  federation_.StopGateway();
  std::filesystem::remove_all(federation_.audit_dir() + "/log");
  absl::Status started = federation_.StartGateway();
  EXPECT_THAT(started, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("removed")));
}

}  // namespace
}  // namespace ndx::testing
