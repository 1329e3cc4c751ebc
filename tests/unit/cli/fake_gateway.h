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
#include "ndx/v1/events.grpc.pb.h"
#include "ndx/v1/exchange.grpc.pb.h"
#include "ndx/v1/registry.grpc.pb.h"
#include "testing/resident_schema.h"
#include "testing/test_pki.h"

namespace ndx::cli {

using ::ndx::testing::kResidentProto;

// An in-process gateway on 127.0.0.1 (port 0) serving Registry and Exchange over mTLS with the
// identity spiffe://ndx.test/gateway/core from a TestPki, answering from fixed data:
//   - GetDataset("mops/residents") gives the dataset above; any other id is NOT_FOUND.
//   - ListNodes gives two nodes; RegisterNode, RegisterDataset, RequestGrant echo their request;
//     ApproveGrant and SetGrantRateLimit answer an approved grant of that id with the request's
//     rate limit.
//   - Get: purpose "denied" is PERMISSION_DENIED; key "slow" answers after 1.5 s; key
//     "wrong-type" answers a record of another type; otherwise the record of that key with
//     fields citizen_id, full_name, household_size (household_size = 0) and an address that is
//     not in the returned fields.
//   - Query: three records in two pages (2 then 1), next_page_token "page-2".
//   - Audit: a real RFC 9162 tree (audit::MerkleTree) over the entries AppendAuditEntries adds,
//     checkpoints signed with a fresh Ed25519 key under kAuditOrigin, and the faults of
//     AuditFaults for the verifier to find. QueryEntries answers every entry, newest first, in
//     pages of page_size (default 2) with tokens "offset-N".
//   - Events: one subscription (the caller's) to kEventsDataset; any other dataset is NOT_FOUND.
//     Publish appends to the dataset's log (sequences from 1, AppendEvents adds more) and answers
//     2 subscriptions. Subscribe: purpose "denied" is PERMISSION_DENIED at once; otherwise it
//     sends the initial metadata, then the notice of set_expired_events while the subscription
//     has not acknowledged its last sequence, then every event after the acknowledged one, in
//     order, and waits for more until cancelled. With purpose "revoked" (or "taken-over") the
//     stream ends with PERMISSION_DENIED (ABORTED) after its first event, and so does each of the
//     next EndEventStreamsUnavailable streams with UNAVAILABLE. Ack moves the acknowledged
//     sequence forward (never back); ListSubscriptions answers that subscription and one of
//     moj/courts to mops/births (acknowledged 40, head 42, connected), filtered by dataset.
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
inline constexpr char kEventsDataset[] = "mops/residents";

class FakeGateway {
 public:
  explicit FakeGateway(testing::TestPki& pki);
  ~FakeGateway();

  std::string address() const;
  // Global ndxctl flags connecting as `node_id` to the gateway "core", which the fake is
  // (placed before the command; --gateway is the first flag and the address the second).
  std::vector<std::string> FlagsAs(const std::string& node_id);

  v1::RegisterDatasetRequest last_register_dataset() const;
  v1::RequestGrantRequest last_request_grant() const;
  v1::ApproveGrantRequest last_approve_grant() const;
  v1::SetGrantRateLimitRequest last_set_grant_rate_limit() const;
  v1::RegisterNodeRequest last_register_node() const;
  std::vector<v1::QueryRequest> queries() const;
  // While set, RegisterNode and Query answer UNAVAILABLE, as a replica that is stopping (each
  // still counted: register_node_calls(), queries()).
  void set_unavailable(bool unavailable);
  int register_node_calls() const;

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
  // moj/courts, every third read is denied, and the purpose holds a comma and quotes. Entry 3
  // is a grant's approval with a rate limit; entry 5 stands for 37 reads refused over it.
  static v1::AuditEntry AuditEntryAt(uint64_t sequence);

  // Appends `count` events to kEventsDataset: type "birth.registered", key "B-<sequence>",
  // publisher mops/population, published one minute apart from 2026-01-01T00:00:00Z.
  void AppendEvents(int count);
  // Subscribe reports events [first, last] as expired (removed after `retention_seconds`).
  void set_expired_events(uint64_t first, uint64_t last, uint64_t retention_seconds);
  // The next `count` Subscribe streams end with UNAVAILABLE after their first event.
  void EndEventStreamsUnavailable(int count);
  std::vector<v1::AckRequest> event_acks() const;
  std::vector<v1::SubscribeRequest> subscribe_requests() const;
  std::vector<v1::PublishRequest> publish_requests() const;
  std::vector<v1::ListSubscriptionsRequest> list_subscriptions_requests() const;
  // How many Subscribe streams are open now.
  int open_event_streams() const;

  class RegistryImpl;
  class ExchangeImpl;
  class AuditImpl;
  class EventsImpl;

 private:
  testing::TestPki& pki_;
  std::unique_ptr<RegistryImpl> registry_;
  std::unique_ptr<ExchangeImpl> exchange_;
  std::unique_ptr<AuditImpl> audit_;
  std::unique_ptr<EventsImpl> events_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace ndx::cli

#endif  // NDX_TESTS_UNIT_CLI_FAKE_GATEWAY_H_
