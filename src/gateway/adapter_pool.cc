#include "gateway/adapter_pool.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/strings/str_cat.h"
#include "gateway/adapter_call_metrics.h"

namespace ndx::gateway {

absl::StatusOr<ndx::v1::Adapter::Stub*> AdapterPool::Find(const std::string& endpoint,
                                                          const std::string& owner_node_id) {
  std::string key = absl::StrCat(endpoint, " ", owner_node_id);
  {
    std::shared_ptr<const StubMap> stubs = stubs_.load(std::memory_order_acquire);
    auto it = stubs->find(key);
    if (it != stubs->end()) return it->second.get();
  }
  absl::MutexLock lock(&create_mutex_);
  std::shared_ptr<const StubMap> stubs = stubs_.load(std::memory_order_acquire);
  auto it = stubs->find(key);
  if (it != stubs->end()) return it->second.get();

  auto credentials = crypto::MakeChannelCredentials(
      gateway_tls_, crypto::SpiffeId::Node(trust_domain_, owner_node_id), gateway_tls_watch_);
  if (!credentials.ok()) {
    return absl::InternalError(absl::StrCat("cannot make credentials for the adapter of ",
                                            owner_node_id, ": ", credentials.status().message()));
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes_);
  args.SetMaxSendMessageSize(max_message_bytes_);
  // Fail fast after a failed connection attempt instead of waiting up to two minutes of backoff:
  // an agency's adapter that comes back should be used at once.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Channelz counts every call for a debugging service ndx does not serve.
  args.SetInt(GRPC_ARG_ENABLE_CHANNELZ, 0);
  std::shared_ptr<grpc::Channel> channel;
  if (metrics_ == nullptr) {
    channel = grpc::CreateCustomChannel(endpoint, *credentials, args);
  } else {
    std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> metered;
    metered.push_back(MakeAdapterCallMetrics(*metrics_, owner_node_id));
    channel = grpc::experimental::CreateCustomChannelWithInterceptors(endpoint, *credentials, args,
                                                                      std::move(metered));
  }
  auto next = std::make_shared<StubMap>(*stubs);
  auto stub = std::shared_ptr<ndx::v1::Adapter::Stub>(ndx::v1::Adapter::NewStub(channel));
  ndx::v1::Adapter::Stub* result = stub.get();
  next->emplace(std::move(key), std::move(stub));
  stubs_.store(std::move(next), std::memory_order_release);
  return result;
}

}  // namespace ndx::gateway
