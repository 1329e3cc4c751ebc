#ifndef NDX_CLI_EVENTS_COMMANDS_H_
#define NDX_CLI_EVENTS_COMMANDS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "cli/output.h"

namespace ndx::cli {

// `ndxctl events ...`: the gateway's Events service. An event only names a record (dataset, key,
// type); subscribers read the record itself with `ndxctl get` under their own grant.

struct PublishOptions {
  std::string dataset;
  std::string key;
  std::string type;
};
// Table: "published <dataset> #<sequence> <type> <key> to <N> subscriptions". JSON: the
// PublishResponse.
absl::Status EventsPublish(const PublishOptions& options, CommandContext& context);

struct SubscribeOptions {
  std::string dataset;
  std::string purpose;
  // Run `/bin/sh -c exec` for each event, with NDX_EVENT_* in its environment; empty: print it.
  std::string exec;
  // Stop once this many events were handled and acknowledged; 0: never.
  uint64_t count = 0;
  // SubscribeRequest.max_unacknowledged; 0 lets the gateway choose.
  uint32_t max_unacknowledged = 0;
};
// Subscribes and handles each event in order: prints it (table: "<sequence> <published_at>
// <type> <key>"; JSON: the Event, one object per line) or runs the handler, then acknowledges it.
// Expired notices are reported on stderr and acknowledged. A stream ending with UNAVAILABLE is
// opened again with backoff (200 ms doubling up to 5 s), forever; another final status is an
// RpcError. SIGINT and SIGTERM stop it with OK (a running handler is waited for and its event
// acknowledged if it succeeded); a handler that fails stops it with HandlerFailure (exit 5)
// without acknowledging its event.
//
// The signals are blocked in the calling thread, and so in the threads gRPC starts from then on,
// and taken by sigwait in a thread of the command's own: a thread started before the call that
// leaves them unblocked (none in ndxctl) would take them instead.
absl::Status EventsSubscribe(const SubscribeOptions& options, CommandContext& context);

struct AckOptions {
  std::string dataset;
  uint64_t sequence = 0;
};
// Table: "acknowledged <dataset> up to #<n>". JSON: the AckResponse.
absl::Status EventsAck(const AckOptions& options, CommandContext& context);

// Table: SUBSCRIBER DATASET PURPOSE ACKED HEAD PENDING EXPIRED CONNECTED GRANT. JSON: the
// ListSubscriptionsResponse. `dataset` empty: every dataset.
absl::Status EventsSubscriptions(const std::string& dataset, CommandContext& context);

}  // namespace ndx::cli

#endif  // NDX_CLI_EVENTS_COMMANDS_H_
