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

NodeLimits::Shard& NodeLimits::ShardOf(absl::string_view node) const {
  return shards_[absl::Hash<absl::string_view>()(node) % kShards];
}

const NodeCapValues& NodeLimits::CapsOf(absl::string_view node) const {
  auto it = options_.nodes.find(node);
  return it == options_.nodes.end() ? options_.defaults : it->second;
}

absl::StatusOr<NodeLimits::Hold> NodeLimits::Acquire(absl::string_view node, NodeResource resource,
                                                     absl::string_view connection) {
  const NodeCapValues& caps = CapsOf(node);
  const int cap = CapOf(caps, resource);
  Shard& shard = ShardOf(node);
  int held = 0;
  int connections = 0;
  {
    absl::MutexLock lock(&shard.mutex);
    auto state = shard.nodes.find(node);
    if (state == shard.nodes.end()) state = shard.nodes.emplace(node, NodeState{}).first;
    held = state->second.held[Index(resource)];
    connections = static_cast<int>(state->second.connections.size());
    const bool new_connection =
        !connection.empty() && !state->second.connections.contains(connection);
    if (held < cap && (!new_connection || connections < caps.connections)) {
      ++state->second.held[Index(resource)];
      if (!connection.empty()) ++state->second.connections[connection];
      Hold hold;
      hold.limits_ = this;
      hold.node_ = std::string(node);
      hold.connection_ = std::string(connection);
      hold.resource_ = resource;
      return hold;
    }
    if (state->second.held == std::array<int, 3>{0, 0, 0}) shard.nodes.erase(state);
  }
  if (held >= cap) return OverCap(node, resource, held);
  return OverloadRefusal(
      absl::StatusCode::kResourceExhausted, OverloadReason::kNodeConnections,
      absl::StrCat("node ", node, " has calls in progress on ", connections,
                   " connections, as many as the gateway allows it (",
                   SettingName(node, "connections"),
                   "); send the calls over fewer gRPC channels: one channel multiplexes them all"));
}

void NodeLimits::Release(const Hold& hold) {
  Shard& shard = ShardOf(hold.node_);
  absl::MutexLock lock(&shard.mutex);
  auto state = shard.nodes.find(hold.node_);
  if (state == shard.nodes.end()) return;
  --state->second.held[Index(hold.resource_)];
  if (!hold.connection_.empty()) {
    auto connection = state->second.connections.find(hold.connection_);
    if (connection != state->second.connections.end() && --connection->second == 0) {
      state->second.connections.erase(connection);
    }
  }
  if (state->second.held == std::array<int, 3>{0, 0, 0}) shard.nodes.erase(state);
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
      advice = "a subscription ends with its grant; ask the gateway's operator to raise the cap";
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
  Shard& shard = ShardOf(node);
  absl::MutexLock lock(&shard.mutex);
  auto it = shard.nodes.find(node);
  return it == shard.nodes.end() ? 0 : static_cast<int>(it->second.connections.size());
}

}  // namespace ndx::gateway
