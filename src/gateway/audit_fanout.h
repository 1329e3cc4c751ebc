#ifndef NDX_GATEWAY_AUDIT_FANOUT_H_
#define NDX_GATEWAY_AUDIT_FANOUT_H_

#include <grpcpp/client_context.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cluster/membership.h"
#include "crypto/spiffe_id.h"
#include "crypto/tls.h"
#include "ndx/v1/audit.grpc.pb.h"

namespace ndx::gateway {

// The metadata a replica sends when it calls another replica's Audit service on behalf of an
// auditor: the auditor's node id. Accepted only from the gateway identity.
inline constexpr char kActingForMetadata[] = "ndx-audit-acting-for";

struct AuditPeersOptions {
  // The live replicas, this one included. Not owned; must outlive the AuditPeers.
  const cluster::Membership* membership = nullptr;
  // The gateway's own mTLS identity (config.tls): replicas call each other with it.
  crypto::TlsFilePaths tls;
  // The identity every replica presents (spiffe://<td>/gateway/core): a called replica must
  // present it, and only a caller presenting it may act for an auditor.
  std::optional<crypto::SpiffeId> gateway_identity;
  // How long a replica waits for the others' answers, within the auditor's own deadline.
  absl::Duration timeout = absl::Seconds(5);
  int max_message_bytes = 4 << 20;
};

// The other replicas of a gateway cluster as one replica's Audit service calls them on behalf
// of an auditor: an mTLS channel per replica address (made on first use, kept), calls in
// parallel with a deadline, and what the replicas said their logs are (origin by replica id).
// Thread-safe.
class AuditPeers {
 public:
  // kInvalidArgument without a membership or the gateway identity; the errors of
  // crypto::MakeChannelCredentials for unusable TLS files.
  static absl::StatusOr<std::unique_ptr<AuditPeers>> Create(AuditPeersOptions options);

  const cluster::Member& self() const { return options_.membership->self(); }
  const crypto::SpiffeId& gateway_identity() const { return *options_.gateway_identity; }
  // The live replicas other than this one, sorted by replica id.
  std::vector<cluster::Member> Others() const;
  // Whether `replica_id` is a live replica.
  bool IsLive(const std::string& replica_id) const;
  // When a call to the others should end: `timeout` from now, or the auditor's deadline if
  // earlier.
  absl::Time Deadline(absl::Time caller_deadline) const;

  // Prepares `context` for a call on behalf of `auditor` that ends at `deadline`.
  static void Prepare(grpc::ClientContext& context, const std::string& auditor,
                      absl::Time deadline);
  // The stub for the replica at `address`.
  absl::StatusOr<v1::Audit::Stub*> Stub(const std::string& address);

  // Calls each of `members` in parallel with `requests[i]`, through
  // `invoke(stub, context, request, response, done)` (a method of the stub's callback API), and
  // waits for every answer; a replica that does not answer by `deadline` gets kDeadlineExceeded.
  template <typename Request, typename Response, typename Invoke>
  std::vector<absl::StatusOr<Response>> CallEach(const std::vector<cluster::Member>& members,
                                                 const std::vector<Request>& requests,
                                                 const std::string& auditor, absl::Time deadline,
                                                 Invoke invoke);

  // Remembers that `replica_id` keeps the log named `log`.
  void Learn(const std::string& replica_id, const std::string& log);
  // The origin last learned for `replica_id`; "" when unknown.
  std::string KnownLog(const std::string& replica_id) const;
  // The live replica known to keep `log`, if any.
  std::optional<cluster::Member> FindLog(const std::string& log) const;

 private:
  AuditPeers(AuditPeersOptions options, std::shared_ptr<grpc::ChannelCredentials> credentials)
      : options_(std::move(options)), credentials_(std::move(credentials)) {}

  const AuditPeersOptions options_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  mutable absl::Mutex mutex_;
  absl::flat_hash_map<std::string, std::unique_ptr<v1::Audit::Stub>> stubs_ ABSL_GUARDED_BY(mutex_);
  absl::flat_hash_map<std::string, std::string> logs_ ABSL_GUARDED_BY(mutex_);
};

// A peer's failure as the merged answer reports it: "<CODE>: <message>", the message saying
// which replica and, for a deadline, how long it was given.
std::string UnavailableReason(const absl::Status& status);

// The answer of one log to one page of a merged query.
struct LogPage {
  std::string replica_id;
  std::string log;
  // The size the log was read at.
  uint64_t size = 0;
  std::vector<v1::AuditEntry> entries;
  // The log's own next_page_token.
  std::string next_token;
};

// One page of a query over several logs, and where each log stands after it.
struct MergedPage {
  // The entries, with the origin of the log each comes from.
  std::vector<std::pair<v1::AuditEntry, std::string>> entries;
  std::vector<v1::AuditPageToken::Cursor> cursors;
  // Whether some log has entries left.
  bool more = false;
};

// Merges `pages` (answered from `cursors[i]`, the same length) into at most `page_size` entries
// ordered by time, newest first, then by log origin, each log's entries in their own order.
// It stops early rather than guess when a log's page runs out while the log has more: a page
// may hold fewer entries, never one out of place. Pure; thread-safe.
MergedPage MergeLogPages(const std::vector<LogPage>& pages,
                         const std::vector<v1::AuditPageToken::Cursor>& cursors, int page_size);

// The page_size to ask a log for, to get `page_size` entries past `cursor.skip`.
int LogPageSize(const v1::AuditPageToken::Cursor& cursor, int page_size);

// A merged page token: base64url of `token`. DecodePageToken: kInvalidArgument (saying to pass
// the token back unchanged) when `text` is not one EncodePageToken made for a query of
// fingerprint `query`.
std::string EncodePageToken(const v1::AuditPageToken& token);
absl::StatusOr<v1::AuditPageToken> DecodePageToken(const std::string& text,
                                                   const std::string& query);
// What a merged page token is bound to: a hash of the request's filters.
std::string QueryFingerprint(const v1::QueryEntriesRequest& request);

template <typename Request, typename Response, typename Invoke>
std::vector<absl::StatusOr<Response>> AuditPeers::CallEach(
    const std::vector<cluster::Member>& members, const std::vector<Request>& requests,
    const std::string& auditor, absl::Time deadline, Invoke invoke) {
  struct Call {
    grpc::ClientContext context;
    Response response;
    absl::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  absl::BlockingCounter pending(static_cast<int>(members.size()));
  for (size_t i = 0; i < members.size(); ++i) {
    calls.push_back(std::make_unique<Call>());
    Call* call = calls.back().get();
    absl::StatusOr<v1::Audit::Stub*> stub = Stub(members[i].address);
    if (!stub.ok()) {
      call->status = stub.status();
      pending.DecrementCount();
      continue;
    }
    Prepare(call->context, auditor, deadline);
    invoke(*stub, &call->context, &requests[i], &call->response,
           [call, &pending, replica = members[i].replica_id](grpc::Status status) {
             if (!status.ok()) {
               call->status = absl::Status(
                   static_cast<absl::StatusCode>(status.error_code()),
                   status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                       ? absl::StrCat("replica ", replica, " did not answer in time")
                       : absl::StrCat("replica ", replica, ": ", status.error_message()));
             }
             pending.DecrementCount();
           });
  }
  pending.Wait();
  std::vector<absl::StatusOr<Response>> answers;
  answers.reserve(calls.size());
  for (std::unique_ptr<Call>& call : calls) {
    if (call->status.ok()) {
      answers.push_back(std::move(call->response));
    } else {
      answers.push_back(std::move(call->status));
    }
  }
  return answers;
}

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_AUDIT_FANOUT_H_
