#ifndef NDX_CLI_AUDIT_COMMANDS_H_
#define NDX_CLI_AUDIT_COMMANDS_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/proof_verifier.h"
#include "cli/cli_status.h"
#include "cli/gateway_client.h"
#include "cli/output.h"
#include "cli/profile.h"
#include "ndx/v1/audit.grpc.pb.h"

namespace ndx::cli {

// `ndxctl audit ...`: the gateway's Audit service (auditors only). `audit verify` checks what the
// gateway answers with audit/checkpoint.h and audit/proof_verifier.h alone, never with the code
// that built the tree, and with a verifier key the user obtained out of band.

// Exit code of a verification that failed: the log is not what its signed checkpoints commit to
// (or the gateway's answers do not prove that it is). Part of the interface (docs/cli.md).
inline constexpr int kExitVerificationFailed = 4;

// `status` marked as a failed verification (exit 4), its message prefixed with "verification
// failed: ". OK stays OK.
absl::Status VerificationFailure(const absl::Status& status);
bool IsVerificationFailure(const absl::Status& status);

// Makes the Audit connection when a command first needs it.
using AuditConnector = std::function<absl::StatusOr<std::unique_ptr<GatewayClient>>()>;

struct AuditQueryOptions {
  std::string from;  // RFC 3339, inclusive
  std::string to;    // RFC 3339, exclusive
  std::string caller;
  std::string dataset;
  std::string decision;  // allow or deny
  std::string subject;   // citizen identifier, in the clear (the gateway pseudonymizes it)
  int page_size = 0;
  std::string page_token;
  bool all = false;  // follow next_page_token to the end
  bool csv = false;  // --output csv
};
// Table: seq, time, caller, operation, dataset, purpose, decision, code, fields. CSV: the same
// columns (RFC 4180, header row). JSON: {"entries": [...], "next_page_token": ...}.
absl::Status AuditQuery(const AuditQueryOptions& options, const AuditConnector& connect,
                        CommandContext& context);

// Prints the latest checkpoint (a new one first with `sign_now`): size, root (hex), time, note.
absl::Status AuditCheckpoint(bool sign_now, const AuditConnector& connect, CommandContext& context);

struct AuditVerifyOptions {
  // Verifier keys (texts, or files holding one a line): the log's; in a cluster, one per log,
  // each found by its name, the log's origin.
  std::vector<std::string> keys;
  std::string state;  // trusted state file; empty: DefaultAuditStatePath
  std::string origin;
  bool full = false;  // recompute the root from every entry
};
// Verifies the latest checkpoint against the trusted state and the entries added since (every
// entry with `full`), then stores the checkpoint as the new trusted state. See docs/cli.md.
// In a gateway cluster (ListLogs names replicas), every listed log is verified so, each with the
// key named after its origin and its own state file (ClusterStatePath), and each is reported:
// verified up to which size, or why not. Exit 4 if any log failed verification; otherwise an
// error if any could not be checked (unreachable, no pinned key).
absl::Status AuditVerify(const AuditVerifyOptions& options, const AuditConnector& connect,
                         CommandContext& context);

// <home>/.config/ndx/audit-state.json; "" when `home` is null or empty.
std::string DefaultAuditStatePath(const char* home);

// In a cluster, the trusted state file of the log `origin`, beside `base`: for
// ".../audit-state.json" and "ndx.gov.vn/audit/gw-a",
// ".../audit-state.ndx.gov.vn%2Faudit%2Fgw-a.json".
std::string ClusterStatePath(const std::string& base, const std::string& origin);

struct AuditExportOptions {
  std::string out;
  uint64_t start = 0;
  uint64_t end = 0;              // 0: the latest checkpoint's size
  std::string format = "jsonl";  // jsonl or bin
};
// Streams entries [start, end) into `out`: jsonl, one AuditEntry as JSON per line; bin, per
// entry its sequence (8 bytes) and length (4 bytes), big-endian, then its bytes.
absl::Status AuditExport(const AuditExportOptions& options, const AuditConnector& connect,
                         CommandContext& context);

// The root of a Merkle tree computed from its leaf hashes given one at a time, in order, holding
// only the perfect subtrees of the size so far (O(log n) hashes). Thread-compatible.
class StreamingRoot {
 public:
  void AddLeaf(const audit::Hash& leaf_hash);
  uint64_t size() const { return size_; }
  // MTH of the leaves added so far (RFC 9162 §2.1.1); EmptyRoot() for none.
  audit::Hash Root() const;

 private:
  // Hashes of the perfect subtrees of size_'s binary decomposition, largest first.
  std::vector<audit::Hash> subtrees_;
  uint64_t size_ = 0;
};

// A CSV field as RFC 4180 wants it: quoted (with inner quotes doubled) when it holds a comma, a
// quote, CR or LF, as is otherwise.
std::string CsvField(absl::string_view text);

}  // namespace ndx::cli

#endif  // NDX_CLI_AUDIT_COMMANDS_H_
