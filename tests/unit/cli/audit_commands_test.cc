// `ndxctl audit ...` through RunCli against the fake gateway's Audit service over real mTLS. The
// fake builds a real RFC 9162 tree and signs real checkpoints; the faults it can inject are what
// `audit verify` must catch (exit 4, trusted state untouched).

#include "cli/audit_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "audit/merkle.h"
#include "cli_runner.h"
#include "common/files.h"
#include "fake_gateway.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"

namespace ndx::cli {
namespace {

using ::ndx::testing::IsOk;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr char kAuditor[] = "ndx/ops";

// Faults with one of them on.
template <typename Field, typename Value>
AuditFaults WithFault(Field AuditFaults::*field, Value value) {
  AuditFaults faults;
  faults.*field = value;
  return faults;
}

class AuditCommandsTest : public ::testing::Test {
 protected:
  // ndxctl <connection flags as kAuditor> <args...>
  CliResult Run(const std::vector<std::string>& args) {
    std::vector<std::string> all = gateway_.FlagsAs(kAuditor);
    all.insert(all.end(), args.begin(), args.end());
    return RunNdxctl(all);
  }

  // audit verify with the log's key and the test's state file, then `extra`.
  CliResult Verify(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"audit",   "verify", "--key", gateway_.audit_verifier_key(),
                                     "--state", state_};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  }

  std::string State() {
    absl::StatusOr<std::string> state = ReadFile(state_);
    EXPECT_THAT(state.status(), IsOk());
    return state.value_or("");
  }

  // The verification fails with exit 4 naming `reason`, and the state file is left as it was.
  void ExpectVerifyFails(const std::vector<std::string>& extra, const std::string& reason) {
    const std::string before = State();
    CliResult result = Verify(extra);
    EXPECT_EQ(result.exit_code, 4) << result;
    EXPECT_THAT(result.err, AllOf(StartsWith("ndxctl: "), HasSubstr("verification failed: "),
                                  HasSubstr(reason)))
        << result;
    EXPECT_THAT(result.out, IsEmpty());
    EXPECT_EQ(State(), before);
  }

  testing::TestPki pki_;
  FakeGateway gateway_{pki_};
  testing::TempDir dir_;
  const std::string state_ = dir_.Join("state/audit-state.json");
};

TEST_F(AuditCommandsTest, QueryFiltersReachTheRequest) {
  CliResult result =
      Run({"audit", "query", "--from", "2026-01-01T07:00:00+07:00", "--to", "2026-02-01T00:00:00Z",
           "--caller", "moh/insurance", "--dataset", "mops/residents", "--decision", "deny",
           "--subject", "001090000001", "--page-size", "50", "--page-token", "offset-0"});
  ASSERT_EQ(result.exit_code, 0) << result;
  std::vector<v1::QueryEntriesRequest> sent = gateway_.audit_queries();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].from().seconds(), 1767225600);  // 2026-01-01T00:00:00Z
  EXPECT_EQ(sent[0].to().seconds(), 1769904000);    // 2026-02-01T00:00:00Z
  EXPECT_EQ(sent[0].caller(), "moh/insurance");
  EXPECT_EQ(sent[0].dataset(), "mops/residents");
  EXPECT_EQ(sent[0].decision(), v1::AuditEntry::DECISION_DENY);
  EXPECT_EQ(sent[0].subject(), "001090000001");
  EXPECT_EQ(sent[0].page_size(), 50);
  EXPECT_EQ(sent[0].page_token(), "offset-0");
}

TEST_F(AuditCommandsTest, QueryRejectsBadFilters) {
  CliResult result = Run({"audit", "query", "--from", "yesterday"});
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("--from: \"yesterday\" is not an RFC 3339 date-time"));
  result = Run({"audit", "query", "--decision", "maybe"});
  EXPECT_EQ(result.exit_code, 2) << result;
  result =
      Run({"audit", "query", "--from", "2026-02-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"});
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("--from must be before --to"));
  EXPECT_THAT(gateway_.audit_queries(), IsEmpty());
}

TEST_F(AuditCommandsTest, QueryPrintsATableNewestFirst) {
  gateway_.AppendAuditEntries(3);
  CliResult result = Run({"audit", "query"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(
      result.out,
      "SEQ  TIME                  CALLER         OPERATION  DATASET         PURPOSE               "
      "DECISION  CODE               CALLS  FIELDS                CHANGE\n"
      "2    2026-01-01T00:02:00Z  moh/insurance  Get        mops/residents  enrolment, "
      "\"phase 2\"  deny      PERMISSION_DENIED  1      -                     -\n"
      "1    2026-01-01T00:01:00Z  moj/courts     Get        mops/residents  enrolment, "
      "\"phase 2\"  allow     OK                 1      full_name,birth_date  -\n");
  EXPECT_EQ(result.err, "more entries: add --page-token offset-2 (or use --all)\n");
}

TEST_F(AuditCommandsTest, QueryCsvQuotesCommasAndQuotes) {
  gateway_.AppendAuditEntries(3);
  CliResult result = Run({"audit", "query", "--all", "--output", "csv"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(result.out,
            "seq,time,caller,operation,dataset,purpose,decision,code,calls,fields,change\r\n"
            "2,2026-01-01T00:02:00Z,moh/insurance,Get,mops/residents,\"enrolment, \"\"phase "
            "2\"\"\",deny,PERMISSION_DENIED,1,,\r\n"
            "1,2026-01-01T00:01:00Z,moj/courts,Get,mops/residents,\"enrolment, \"\"phase "
            "2\"\"\",allow,OK,1,\"full_name,birth_date\",\r\n"
            "0,2026-01-01T00:00:00Z,moh/insurance,Get,mops/residents,\"enrolment, \"\"phase "
            "2\"\"\",allow,OK,1,\"full_name,birth_date\",\r\n");
  EXPECT_THAT(result.err, IsEmpty());
  // csv is a format of audit query only.
  EXPECT_EQ(Run({"audit", "checkpoint", "--output", "csv"}).exit_code, 2);
}

TEST_F(AuditCommandsTest, QueryTableSummarizesRegistryChanges) {
  gateway_.AppendAuditEntries(4);
  CliResult result = Run({"audit", "query", "--all"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, HasSubstr("Registry.ApproveGrant"));
  EXPECT_THAT(result.out, HasSubstr("grant g-7 requested→approved for moh/insurance operations "
                                    "read,export rate 5/s burst 10"));
  result = Run({"audit", "query", "--all", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  nlohmann::ordered_json json = ParseJson(result.out);
  EXPECT_EQ(json["entries"][0]["change"]["grant_state_after"], "GRANT_STATE_APPROVED");
}

TEST_F(AuditCommandsTest, QueryShowsHowManyCallsAnEntryOfRefusalsStandsFor) {
  gateway_.AppendAuditEntries(6);
  CliResult result = Run({"audit", "query", "--all", "--output", "csv"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out,
              HasSubstr("5,2026-01-01T00:05:00Z,moj/courts,Get,mops/residents,\"enrolment, "
                        "\"\"phase 2\"\"\",deny,RESOURCE_EXHAUSTED,37,,\r\n"));
  result = Run({"audit", "query", "--all", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  nlohmann::ordered_json json = ParseJson(result.out);
  EXPECT_EQ(json["entries"][0]["refused_calls"], "37");
  EXPECT_EQ(json["entries"][0]["refused_until"], "2026-01-01T00:05:01Z");
}

TEST_F(AuditCommandsTest, QueryAllFollowsThePagesIntoOneJsonDocument) {
  gateway_.AppendAuditEntries(5);
  CliResult result = Run({"audit", "query", "--all", "--output", "json", "--subject", "001"});
  ASSERT_EQ(result.exit_code, 0) << result;
  nlohmann::ordered_json json = ParseJson(result.out);
  ASSERT_EQ(json["entries"].size(), 5u);
  EXPECT_EQ(json["entries"][0]["sequence"], "4");
  EXPECT_EQ(json["entries"][4]["sequence"], "0");
  EXPECT_EQ(json["entries"][0]["decision"], "DECISION_ALLOW");
  EXPECT_EQ(json["next_page_token"], "");
  std::vector<v1::QueryEntriesRequest> sent = gateway_.audit_queries();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].page_token(), "");
  EXPECT_EQ(sent[1].page_token(), "offset-2");
  EXPECT_EQ(sent[2].page_token(), "offset-4");
  EXPECT_EQ(sent[2].subject(), "001");
}

TEST_F(AuditCommandsTest, CheckpointPrintsSizeRootTimeAndNote) {
  gateway_.AppendAuditEntries(3);
  CliResult result = Run({"audit", "checkpoint"});
  ASSERT_EQ(result.exit_code, 0) << result;
  std::vector<std::string> lines = absl::StrSplit(result.out, '\n');
  ASSERT_GE(lines.size(), 9u) << result;
  EXPECT_EQ(lines[0], "size:  3");
  EXPECT_THAT(lines[1], StartsWith("root:  "));
  EXPECT_EQ(lines[1].size(), 7u + 64u);
  EXPECT_EQ(lines[2], "time:  2026-01-01T00:00:03Z");
  EXPECT_EQ(lines[3], "");
  EXPECT_EQ(lines[4], kAuditOrigin);
  EXPECT_EQ(lines[5], "3");
  EXPECT_THAT(lines[7], StartsWith("Timestamp: "));
  EXPECT_THAT(lines[9], StartsWith(absl::StrCat("— ", kAuditOrigin, " ")));
  ASSERT_EQ(gateway_.checkpoint_requests().size(), 1u);
  EXPECT_FALSE(gateway_.checkpoint_requests()[0].sign_now());

  result = Run({"audit", "checkpoint", "--sign-now", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  nlohmann::ordered_json json = ParseJson(result.out);
  EXPECT_EQ(json["tree_size"], 3);
  EXPECT_EQ(json["root_hash"], lines[1].substr(7));
  EXPECT_THAT(json["note"].get<std::string>(), StartsWith(absl::StrCat(kAuditOrigin, "\n3\n")));
  EXPECT_TRUE(gateway_.checkpoint_requests().back().sign_now());
}

TEST_F(AuditCommandsTest, VerifyStoresStateThenFollowsTheGrowingLog) {
  gateway_.AppendAuditEntries(5);
  CliResult result = Verify({"--origin", kAuditOrigin});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, StartsWith("verified: size 0 -> 5, first run (no trusted checkpoint "
                                     "before), 5 entries checked\n"));
  nlohmann::ordered_json state = ParseJson(State());
  EXPECT_EQ(state["size"], 5);
  EXPECT_EQ(state["origin"], kAuditOrigin);
  EXPECT_EQ(std::filesystem::status(state_).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  gateway_.AppendAuditEntries(8);
  result = Verify();
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out,
              StartsWith("verified: size 5 -> 13, consistency ok, 8 entries checked\n"));
  EXPECT_EQ(ParseJson(State())["size"], 13);

  // Nothing new: the same checkpoint verifies again with nothing to check.
  result = Verify({"--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  nlohmann::ordered_json json = ParseJson(result.out);
  EXPECT_EQ(json["old_size"], 13);
  EXPECT_EQ(json["new_size"], 13);
  EXPECT_EQ(json["entries_checked"], 0);

  gateway_.AppendAuditEntries(20);
  result = Verify({"--full"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out,
              StartsWith("verified: size 13 -> 33, consistency ok, 33 entries checked (full)\n"));
  EXPECT_EQ(ParseJson(State())["size"], 33);
}

TEST_F(AuditCommandsTest, VerifyStartsFromAnEmptyLog) {
  gateway_.PublishAuditCheckpointAt(0);
  CliResult result = Verify();
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, StartsWith("verified: size 0 -> 0, first run (no trusted checkpoint "
                                     "before), 0 entries checked\n"));
  gateway_.AppendAuditEntries(3);
  result = Verify();
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, StartsWith("verified: size 0 -> 3, consistency ok, 3 entries checked\n"));
}

TEST_F(AuditCommandsTest, VerifyReadsTheKeyFromAFile) {
  gateway_.AppendAuditEntries(2);
  const std::string key_file = dir_.Join("audit.vkey");
  ASSERT_THAT(WriteFileAtomically(key_file, gateway_.audit_verifier_key() + "\n", 0644), IsOk());
  CliResult result =
      Run({"audit", "verify", "--key", key_file, "--state", state_, "--origin", kAuditOrigin});
  EXPECT_EQ(result.exit_code, 0) << result;

  result = Run({"audit", "verify", "--key", "not-a-key", "--state", state_});
  EXPECT_EQ(result.exit_code, 2) << result;
  EXPECT_THAT(result.err, HasSubstr("--key: "));
}

TEST_F(AuditCommandsTest, VerifyRefusesAnotherOrigin) {
  gateway_.AppendAuditEntries(2);
  CliResult result = Verify({"--origin", "ndx.test/audit/other"});
  EXPECT_EQ(result.exit_code, 4) << result;
  EXPECT_THAT(result.err, HasSubstr("not \"ndx.test/audit/other\""));
  EXPECT_FALSE(std::filesystem::exists(state_));
}

TEST_F(AuditCommandsTest, WrongSignatureFails) {
  gateway_.AppendAuditEntries(4);
  ASSERT_EQ(Verify().exit_code, 0);
  gateway_.set_audit_faults(WithFault(&AuditFaults::wrong_signature, true));
  gateway_.AppendAuditEntries(1);
  ExpectVerifyFails({}, "the latest checkpoint: ");
}

TEST_F(AuditCommandsTest, BadConsistencyProofFails) {
  gateway_.AppendAuditEntries(5);
  ASSERT_EQ(Verify().exit_code, 0);
  gateway_.AppendAuditEntries(6);
  gateway_.set_audit_faults(WithFault(&AuditFaults::bad_consistency_proof, true));
  ExpectVerifyFails({}, "does not extend the trusted one of size 5");
}

TEST_F(AuditCommandsTest, ShrunkTreeFails) {
  gateway_.AppendAuditEntries(7);
  ASSERT_EQ(Verify().exit_code, 0);
  gateway_.PublishAuditCheckpointAt(4);
  ExpectVerifyFails({}, "the log shrank: the trusted checkpoint has 7 entries, the latest one 4");
}

TEST_F(AuditCommandsTest, TamperedNewEntryFails) {
  gateway_.AppendAuditEntries(3);
  ASSERT_EQ(Verify().exit_code, 0);
  gateway_.AppendAuditEntries(4);
  gateway_.set_audit_faults(WithFault(&AuditFaults::tampered_entry, 5));
  ExpectVerifyFails({}, "entry 5 is not in the tree of size 7");
}

TEST_F(AuditCommandsTest, TamperedOldEntryFailsFullVerification) {
  gateway_.AppendAuditEntries(6);
  ASSERT_EQ(Verify().exit_code, 0);
  gateway_.AppendAuditEntries(3);
  // Entry 1 was checked on the first run; only --full reads it again.
  gateway_.set_audit_faults(WithFault(&AuditFaults::tampered_entry, 1));
  ExpectVerifyFails({"--full"}, "not to the trusted root");
}

TEST_F(AuditCommandsTest, TamperedEntryFailsFullVerificationOnFirstRun) {
  gateway_.AppendAuditEntries(6);
  gateway_.set_audit_faults(WithFault(&AuditFaults::tampered_entry, 4));
  const std::string fresh_state = dir_.Join("fresh.json");
  CliResult result = Run({"audit", "verify", "--key", gateway_.audit_verifier_key(), "--state",
                          fresh_state, "--full"});
  EXPECT_EQ(result.exit_code, 4) << result;
  EXPECT_THAT(result.err, HasSubstr("not to the signed root"));
  EXPECT_FALSE(std::filesystem::exists(fresh_state));
}

TEST_F(AuditCommandsTest, RemovedEntryFails) {
  gateway_.AppendAuditEntries(4);
  ASSERT_EQ(Verify().exit_code, 0);
  gateway_.AppendAuditEntries(4);
  gateway_.set_audit_faults(WithFault(&AuditFaults::removed_entry, 6));
  ExpectVerifyFails({}, "entry 6 is missing from the export");
  gateway_.set_audit_faults(WithFault(&AuditFaults::removed_entry, 7));
  ExpectVerifyFails({}, "the export ended before entry 7");
  gateway_.set_audit_faults(WithFault(&AuditFaults::removed_entry, 2));
  ExpectVerifyFails({"--full"}, "entry 2 is missing from the export");
}

TEST_F(AuditCommandsTest, CorruptStateFileIsALocalError) {
  gateway_.AppendAuditEntries(2);
  ASSERT_EQ(Verify().exit_code, 0);
  nlohmann::ordered_json state = ParseJson(State());
  state["size"] = 1;
  ASSERT_THAT(WriteFileAtomically(state_, state.dump(), 0600), IsOk());
  CliResult result = Verify();
  EXPECT_EQ(result.exit_code, 3) << result;
  EXPECT_THAT(result.err, HasSubstr("differ from its signed note"));
}

TEST_F(AuditCommandsTest, ExportWritesJsonLinesAndASummary) {
  gateway_.AppendAuditEntries(5);
  const std::string out = dir_.Join("audit.jsonl");
  CliResult result = Run({"audit", "export", "--out", out, "--start", "1"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_THAT(result.err,
              StartsWith(absl::StrCat("exported 4 entries [1, 5) to ", out, " (jsonl) in ")));
  absl::StatusOr<std::string> text = ReadFile(out);
  ASSERT_THAT(text.status(), IsOk());
  std::vector<std::string> lines = absl::StrSplit(*text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u);
  nlohmann::ordered_json first = ParseJson(lines[0]);
  EXPECT_EQ(first["sequence"], "1");
  EXPECT_EQ(first["caller"], "moj/courts");
  EXPECT_EQ(first["purpose"], "enrolment, \"phase 2\"");
  EXPECT_EQ(ParseJson(lines[3])["sequence"], "4");
  EXPECT_FALSE(std::filesystem::exists(out + ".partial"));
}

TEST_F(AuditCommandsTest, ExportBinHoldsTheStoredBytes) {
  gateway_.AppendAuditEntries(3);
  const std::string out = dir_.Join("audit.bin");
  CliResult result =
      Run({"audit", "export", "--out", out, "--end", "2", "--format", "bin", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  nlohmann::ordered_json json = ParseJson(result.out);
  EXPECT_EQ(json["entries"], 2);
  EXPECT_EQ(json["end"], 2);
  std::string expected;
  for (uint64_t i = 0; i < 2; ++i) {
    std::string bytes = gateway_.audit_entry_bytes(i);
    expected += std::string(7, '\0') + static_cast<char>(i);
    expected += std::string(2, '\0') + static_cast<char>(bytes.size() >> 8) +
                static_cast<char>(bytes.size() & 0xff);
    expected += bytes;
  }
  EXPECT_EQ(ReadFile(out).value_or(""), expected);
}

TEST_F(AuditCommandsTest, FailedExportLeavesNoFile) {
  gateway_.AppendAuditEntries(3);
  gateway_.set_audit_faults(WithFault(&AuditFaults::removed_entry, 1));
  const std::string out = dir_.Join("audit.jsonl");
  CliResult result = Run({"audit", "export", "--out", out});
  EXPECT_EQ(result.exit_code, 3) << result;
  EXPECT_THAT(result.err, HasSubstr("entry 1 is missing from the export"));
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_FALSE(std::filesystem::exists(out + ".partial"));
}

TEST(StreamingRootTest, MatchesTheMerkleTreeAtEverySize) {
  audit::InMemoryHashStore store;
  absl::StatusOr<audit::MerkleTree> tree = audit::MerkleTree::Open(&store, 0);
  ASSERT_THAT(tree.status(), IsOk());
  StreamingRoot streaming;
  EXPECT_EQ(streaming.Root(), audit::EmptyRoot());
  for (int i = 0; i < 70; ++i) {
    std::string entry = absl::StrCat("entry ", i);
    ASSERT_THAT(tree->Append({entry}), IsOk());
    streaming.AddLeaf(audit::LeafHash(entry));
    ASSERT_EQ(streaming.size(), static_cast<uint64_t>(i + 1));
    absl::StatusOr<audit::Hash> root = tree->Root(i + 1);
    ASSERT_THAT(root.status(), IsOk());
    EXPECT_EQ(streaming.Root(), *root) << "size " << i + 1;
  }
}

TEST(CsvFieldTest, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(CsvField("plain text"), "plain text");
  EXPECT_EQ(CsvField(""), "");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
}

}  // namespace
}  // namespace ndx::cli
