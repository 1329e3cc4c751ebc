#ifndef NDX_GATEWAY_NODE_LIMITS_H_
#define NDX_GATEWAY_NODE_LIMITS_H_

#include <array>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "ndx/v1/config.pb.h"

namespace ndx::gateway {

// What a node holds of the gateway while a call of it runs.
enum class NodeResource {
  // An Exchange read (Get, Query; gRPC or the REST/JSON face), from its arrival to its answer.
  kCalls,
  // An open server stream (Audit.ExportEntries, Events.Subscribe).
  kStreams,
  // An event subscription.
  kSubscriptions,
};

// One node's caps. The defaults protect a gateway of a few thousand calls in flight: 256 reads
// in progress is more than a node's system needs at the latencies of a database behind an
// adapter (256 reads of 10 ms each are 25,000 reads a second) while a dozen greedy nodes cannot
// fill the gateway; 16 streams are several audit exports and subscribers at once; 64
// subscriptions cover every dataset a consumer reacts to; 8 connections are one channel for
// each of several replicas of the node's system (a gRPC channel multiplexes its calls over one
// connection).
struct NodeCapValues {
  int calls = 256;
  int streams = 16;
  int subscriptions = 64;
  int connections = 8;
};

struct NodeLimitsOptions {
  NodeCapValues defaults;
  // Caps of particular nodes, by node id.
  absl::flat_hash_map<std::string, NodeCapValues> nodes;
};

// The options of a node_limits config whose defaults FinishGatewayConfig filled.
NodeLimitsOptions NodeLimitsOptionsFrom(const v1::NodeLimitsConfig& config);

// Caps what each caller node holds of the gateway at once: reads in progress, open streams,
// subscriptions, and the connections its calls arrive on. Over a cap, a call is refused at once
// with kResourceExhausted naming the cap and the setting that raises it (OverloadRefusal).
//
// Connections: gRPC 1.51 offers no hook when a connection is accepted or closed, and the node is
// known only from a call's certificate. A connection is therefore known by the peer address its
// calls carry (each connection has its own client port), and counts against its node while it
// carries one of the node's calls: a call arriving on a further connection is refused. A
// connection cannot go on counting after its last call until it closes, since its closing is not
// seen either: a client running one call per connection (ndxctl, once per process) would be
// refused after a few. Connections without a call are not counted; max_connection_idle closes
// them.
//
// Thread-safe. State is kept per node in 16 shards, each under its own mutex, held for a few map
// operations: no lock is shared by all callers.
class NodeLimits {
 public:
  // What one Acquire took, given back when destroyed. Move-only; must not outlive its
  // NodeLimits.
  class Hold {
   public:
    Hold() = default;
    Hold(Hold&& other) noexcept { *this = std::move(other); }
    Hold& operator=(Hold&& other) noexcept;
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    ~Hold() { Release(); }

    // Gives it back now.
    void Release();

   private:
    friend class NodeLimits;
    NodeLimits* limits_ = nullptr;
    std::string node_;
    std::string connection_;
    NodeResource resource_ = NodeResource::kCalls;
  };

  explicit NodeLimits(NodeLimitsOptions options) : options_(std::move(options)) {}
  NodeLimits(const NodeLimits&) = delete;
  NodeLimits& operator=(const NodeLimits&) = delete;

  // Takes one `resource` for `node`, whose call arrived on `connection`: the gRPC peer address
  // ("ipv4:10.0.0.7:51234"), or empty for a transport whose connections are bounded otherwise
  // (the REST/JSON face's threads).
  absl::StatusOr<Hold> Acquire(absl::string_view node, NodeResource resource,
                               absl::string_view connection);

  // Whether `node`, which already has `held` of `resource` kept elsewhere (subscriptions stored
  // by the event store), may have one more.
  absl::Status CheckHeld(absl::string_view node, NodeResource resource, int held) const;

  // How much of `resource` `node` holds now, and its connections carrying calls now.
  int Held(absl::string_view node, NodeResource resource) const;
  int Connections(absl::string_view node) const;

 private:
  struct NodeState {
    std::array<int, 3> held = {0, 0, 0};
    // The node's calls in progress on each connection that carries some.
    absl::flat_hash_map<std::string, int> connections;
  };
  struct Shard {
    mutable absl::Mutex mutex;
    absl::flat_hash_map<std::string, NodeState> nodes ABSL_GUARDED_BY(mutex);
  };
  static constexpr int kShards = 16;

  Shard& ShardOf(absl::string_view node) const;
  const NodeCapValues& CapsOf(absl::string_view node) const;
  void Release(const Hold& hold);
  // The setting that sets `node`'s cap `setting` ("calls"), as an operator writes it.
  std::string SettingName(absl::string_view node, absl::string_view setting) const;
  // The refusal for `node` holding `held` of `resource`.
  absl::Status OverCap(absl::string_view node, NodeResource resource, int held) const;

  const NodeLimitsOptions options_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_NODE_LIMITS_H_
