#include "gateway/node_limits.h"

#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "gateway/overload_refusal.h"

namespace ndx::gateway {
namespace {

int CapOf(const NodeCapValues& caps, NodeResource resource) {
  switch (resource) {
    case NodeResource::kCalls:
      return caps.calls;
    case NodeResource::kStreams:
      return caps.streams;
    case NodeResource::kSubscriptions:
      return caps.subscriptions;
  }
  return 0;
}

// The setting's name in the config (NodeCaps).
absl::string_view SettingOf(NodeResource resource) {
  switch (resource) {
    case NodeResource::kCalls:
      return "calls";
    case NodeResource::kStreams:
      return "streams";
    case NodeResource::kSubscriptions:
      return "subscriptions";
  }
  return "";
}

OverloadReason ReasonOf(NodeResource resource) {
  switch (resource) {
    case NodeResource::kCalls:
      return OverloadReason::kNodeCalls;
    case NodeResource::kStreams:
      return OverloadReason::kNodeStreams;
    case NodeResource::kSubscriptions:
      return OverloadReason::kNodeSubscriptions;
  }
  return OverloadReason::kNodeCalls;
}

size_t Index(NodeResource resource) { return static_cast<size_t>(resource); }

NodeCapValues CapsFrom(const v1::NodeCaps& caps) {
  return {.calls = static_cast<int>(caps.calls()),
          .streams = static_cast<int>(caps.streams()),
          .subscriptions = static_cast<int>(caps.subscriptions()),
          .connections = static_cast<int>(caps.connections())};
}

}  // namespace

NodeLimitsOptions NodeLimitsOptionsFrom(const v1::NodeLimitsConfig& config) {
  NodeLimitsOptions options;
  options.defaults = CapsFrom(config.defaults());
  for (const auto& [node, caps] : config.nodes()) options.nodes.emplace(node, CapsFrom(caps));
  options.connection_idle = absl::Milliseconds(config.transport().max_connection_idle_ms());
  return options;
}

NodeLimits::Hold& NodeLimits::Hold::operator=(Hold&& other) noexcept {
  if (this != &other) {
    Release();
    limits_ = std::exchange(other.limits_, nullptr);
    node_ = std::move(other.node_);
    connection_ = std::move(other.connection_);
    resource_ = other.resource_;
  }
  return *this;
}

void NodeLimits::Hold::Release() {
  if (limits_ == nullptr) return;
  limits_->Release(*this);
  limits_ = nullptr;
}

NodeLimits::NodeLimits(NodeLimitsOptions options, const Clock* clock)
    : options_(std::move(options)), clock_(clock) {}

NodeLimits::Shard& NodeLimits::ShardOf(absl::string_view node) const {
  return shards_[absl::Hash<absl::string_view>()(node) % kShards];
}

const NodeCapValues& NodeLimits::CapsOf(absl::string_view node) const {
  auto it = options_.nodes.find(node);
  return it == options_.nodes.end() ? options_.defaults : it->second;
}

void NodeLimits::ForgetIdleConnections(NodeState& state, absl::Time now) const {
  absl::erase_if(state.connections, [&](const auto& entry) {
    return entry.second.calls == 0 && now - entry.second.last_call_end >= options_.connection_idle;
  });
}

absl::StatusOr<NodeLimits::Hold> NodeLimits::Acquire(absl::string_view node, NodeResource resource,
                                                     absl::string_view connection) {
  const NodeCapValues& caps = CapsOf(node);
  const int cap = CapOf(caps, resource);
  const absl::Time now = clock_->Now();
  Shard& shard = ShardOf(node);
  {
    absl::MutexLock lock(&shard.mutex);
    NodeState& state = shard.nodes[node];
    int& held = state.held[Index(resource)];
    bool refused_connection = false;
    if (held < cap && !connection.empty()) {
      auto it = state.connections.find(connection);
      if (it == state.connections.end()) {
        ForgetIdleConnections(state, now);
        if (static_cast<int>(state.connections.size()) >= caps.connections) {
          refused_connection = true;
        } else {
          it = state.connections.emplace(connection, Connection{}).first;
        }
      }
      if (!refused_connection) ++it->second.calls;
    }
    if (held < cap && !refused_connection) {
      ++held;
      Hold hold;
      hold.limits_ = this;
      hold.node_ = std::string(node);
      hold.connection_ = std::string(connection);
      hold.resource_ = resource;
      return hold;
    }
    const int connections = static_cast<int>(state.connections.size());
    if (state.held == std::array<int, 3>{0, 0, 0} && state.connections.empty()) {
      shard.nodes.erase(node);
    }
    if (!refused_connection) return OverCap(node, resource, cap);
    return OverloadRefusal(
        absl::StatusCode::kResourceExhausted, OverloadReason::kNodeConnections,
        absl::StrCat("node ", node, " has ", connections,
                     " connections carrying its calls, as many as the gateway allows it (",
                     SettingName(node, "connections"), "; a connection counts until ",
                     absl::FormatDuration(options_.connection_idle),
                     " after its last call); send the calls over fewer gRPC channels: one "
                     "channel multiplexes them all"));
  }
}

void NodeLimits::Release(const Hold& hold) {
  const absl::Time now = clock_->Now();
  Shard& shard = ShardOf(hold.node_);
  absl::MutexLock lock(&shard.mutex);
  auto node = shard.nodes.find(hold.node_);
  if (node == shard.nodes.end()) return;
  NodeState& state = node->second;
  --state.held[Index(hold.resource_)];
  if (!hold.connection_.empty()) {
    auto connection = state.connections.find(hold.connection_);
    if (connection != state.connections.end() && --connection->second.calls == 0) {
      connection->second.last_call_end = now;
    }
  }
  if (state.held == std::array<int, 3>{0, 0, 0}) {
    ForgetIdleConnections(state, now);
    if (state.connections.empty()) shard.nodes.erase(node);
  }
}

std::string NodeLimits::SettingName(absl::string_view node, absl::string_view setting) const {
  if (options_.nodes.contains(node)) {
    return absl::StrCat("node_limits.nodes[\"", node, "\"].", setting);
  }
  return absl::StrCat("node_limits.defaults.", setting);
}

absl::Status NodeLimits::OverCap(absl::string_view node, NodeResource resource, int held) const {
  absl::string_view what;
  absl::string_view advice;
  switch (resource) {
    case NodeResource::kCalls:
      what = "reads in progress";
      advice = "retry once some are answered";
      break;
    case NodeResource::kStreams:
      what = "streams open";
      advice = "end one first";
      break;
    case NodeResource::kSubscriptions:
      what = "subscriptions";
      advice = "remove one first";
      break;
  }
  return OverloadRefusal(
      absl::StatusCode::kResourceExhausted, ReasonOf(resource),
      absl::StrCat("node ", node, " has ", held, " ", what, ", as many as the gateway allows it (",
                   SettingName(node, SettingOf(resource)), "); ", advice));
}

absl::Status NodeLimits::CheckHeld(absl::string_view node, NodeResource resource, int held) const {
  const int cap = CapOf(CapsOf(node), resource);
  if (held < cap) return absl::OkStatus();
  return OverCap(node, resource, held);
}

int NodeLimits::Held(absl::string_view node, NodeResource resource) const {
  Shard& shard = ShardOf(node);
  absl::MutexLock lock(&shard.mutex);
  auto it = shard.nodes.find(node);
  return it == shard.nodes.end() ? 0 : it->second.held[Index(resource)];
}

int NodeLimits::Connections(absl::string_view node) const {
  const absl::Time now = clock_->Now();
  Shard& shard = ShardOf(node);
  absl::MutexLock lock(&shard.mutex);
  auto it = shard.nodes.find(node);
  if (it == shard.nodes.end()) return 0;
  int counted = 0;
  for (const auto& [address, connection] : it->second.connections) {
    if (connection.calls > 0 || now - connection.last_call_end < options_.connection_idle) {
      ++counted;
    }
  }
  return counted;
}

}  // namespace ndx::gateway
