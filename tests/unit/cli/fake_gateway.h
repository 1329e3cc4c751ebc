#ifndef NDX_TESTS_UNIT_CLI_FAKE_GATEWAY_H_
#define NDX_TESTS_UNIT_CLI_FAKE_GATEWAY_H_

#include <grpcpp/server.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "ndx/v1/audit.grpc.pb.h"
#include "ndx/v1/exchange.grpc.pb.h"
#include "ndx/v1/registry.grpc.pb.h"
#include "testing/resident_schema.h"
#include "testing/test_pki.h"

namespace ndx::cli {

using ::ndx::testing::kResidentProto;

// An in-process gateway on 127.0.0.1 (port 0) serving Registry and Exchange over mTLS with the
// identity spiffe://ndx.test/gateway/core from a TestPki, answering from fixed data:
//   - GetDataset("mops/residents") gives the dataset above; any other id is NOT_FOUND.
//   - ListNodes gives two nodes; RegisterNode, RegisterDataset, RequestGrant echo their request.
//   - Get: purpose "denied" is PERMISSION_DENIED; key "slow" answers after 1.5 s; key
//     "wrong-type" answers a record of another type; otherwise the record of that key with
//     fields citizen_id, full_name, household_size (household_size = 0) and an address that is
//     not in the returned fields.
//   - Query: three records in two pages (2 then 1), next_page_token "page-2".
//   - Audit: a real RFC 9162 tree (audit::MerkleTree) over the entries AppendAuditEntries adds,
//     checkpoints signed with a fresh Ed25519 key under kAuditOrigin, and the faults of
//     AuditFaults for the verifier to find. QueryEntries answers every entry, newest first, in
//     pages of page_size (default 2) with tokens "offset-N".
// Records the last requests for the tests to inspect. Thread-safe.
// What the fake Audit service gets wrong on purpose.
struct AuditFaults {
  // Checkpoints are signed by another key under the same name.
  bool wrong_signature = false;
  // The first hash of every consistency proof has one bit flipped.
  bool bad_consistency_proof = false;
  // ExportEntries (and GetInclusionProof) give other bytes for this entry than the tree holds.
  std::optional<uint64_t> tampered_entry;
  // ExportEntries leaves this entry out.
  std::optional<uint64_t> removed_entry;
};

inline constexpr char kAuditOrigin[] = "ndx.test/audit/core";

class FakeGateway {
 public:
  explicit FakeGateway(testing::TestPki& pki);
  ~FakeGateway();

  std::string address() const;
  // Global ndxctl flags connecting as `node_id` (placed before the command).
  std::vector<std::string> FlagsAs(const std::string& node_id);

  v1::RegisterDatasetRequest last_register_dataset() const;
  v1::RequestGrantRequest last_request_grant() const;
  v1::RegisterNodeRequest last_register_node() const;
  std::vector<v1::QueryRequest> queries() const;

  // Appends `count` entries to the audit log (entry i is AuditEntryAt(i)); the latest
  // checkpoint is re-signed over the whole log.
  void AppendAuditEntries(int count);
  // Signs the latest checkpoint over the first `size` entries only (a log that "shrank").
  void PublishAuditCheckpointAt(uint64_t size);
  void set_audit_faults(const AuditFaults& faults);
  // The verifier key of the log, as an operator would hand it out.
  std::string audit_verifier_key() const;
  // The stored bytes of entry `sequence`.
  std::string audit_entry_bytes(uint64_t sequence) const;
  std::vector<v1::QueryEntriesRequest> audit_queries() const;
  std::vector<v1::GetCheckpointRequest> checkpoint_requests() const;
  // Entry `sequence` as the fake logs it: callers alternate between moh/insurance and
  // moj/courts, every third read is denied, and the purpose holds a comma and quotes.
  static v1::AuditEntry AuditEntryAt(uint64_t sequence);

  class RegistryImpl;
  class ExchangeImpl;
  class AuditImpl;

 private:
  testing::TestPki& pki_;
  std::unique_ptr<RegistryImpl> registry_;
  std::unique_ptr<ExchangeImpl> exchange_;
  std::unique_ptr<AuditImpl> audit_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace ndx::cli

#endif  // NDX_TESTS_UNIT_CLI_FAKE_GATEWAY_H_
