#include "cluster/etcd_client.h"

#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace ndx::cluster {
namespace {

enum class AddressFamily { kIpv4, kIpv6 };

// The family of an "a.b.c.d:port" or "[v6]:port" endpoint; nullopt for a host name or an
// endpoint without a valid port.
std::optional<AddressFamily> FamilyOf(absl::string_view endpoint) {
  const size_t colon = endpoint.rfind(':');
  if (colon == absl::string_view::npos) return std::nullopt;
  int port = 0;
  if (!absl::SimpleAtoi(endpoint.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return std::nullopt;
  }
  absl::string_view host = endpoint.substr(0, colon);
  unsigned char address[16];
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    const std::string inner(host.substr(1, host.size() - 2));
    if (::inet_pton(AF_INET6, inner.c_str(), address) == 1) return AddressFamily::kIpv6;
    return std::nullopt;
  }
  if (::inet_pton(AF_INET, std::string(host).c_str(), address) == 1) return AddressFamily::kIpv4;
  return std::nullopt;
}

// Range is the one call that is safe to repeat (a Put or Txn repeated after a lost answer
// would apply twice), so only it is retried, on another member when one is gone. The retries
// stay within the call's deadline.
constexpr char kServiceConfig[] =
    R"({"loadBalancingConfig":[{"round_robin":{}}],)"
    R"("methodConfig":[{"name":[{"service":"etcdserverpb.KV","method":"Range"}],)"
    R"("retryPolicy":{"maxAttempts":3,"initialBackoff":"0.05s","maxBackoff":"0.2s",)"
    R"("backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]})";

// etcd's "require leader" metadata (clientv3.WithRequireLeader): a member that loses its
// leader ends the stream with UNAVAILABLE instead of keeping it open and silent, so that the
// client goes on with a member that is part of the quorum.
void RequireLeader(grpc::ClientContext& context) { context.AddMetadata("hasleader", "true"); }

// etcd's Watch stream over gRPC's synchronous bidi stream: gRPC allows one reader and one
// writer at a time, so the reader is the one thread that calls Next() and writes are serialised
// by write_mutex_. Cancel() may come from any thread: TryCancel is thread-safe.
class GrpcWatchStream final : public EtcdClient::WatchStream {
 public:
  GrpcWatchStream(etcdserverpb::Watch::Stub& stub, std::string endpoint_list)
      : endpoint_list_(std::move(endpoint_list)) {
    RequireLeader(context_);
    stream_ = stub.Watch(&context_);
  }

  // A stream that is still open is cancelled and drained, since gRPC requires Finish() before
  // the stream goes. REQUIRES: no other thread is in Next() or RequestProgress().
  ~GrpcWatchStream() override {
    if (finished_) return;
    context_.TryCancel();
    etcdserverpb::WatchResponse ignored;
    while (stream_->Read(&ignored)) {
    }
    stream_->Finish().IgnoreError();
  }

  // Sends the create request; the error of the stream when it is already broken.
  absl::Status Start(const etcdserverpb::WatchCreateRequest& create) {
    etcdserverpb::WatchRequest request;
    *request.mutable_create_request() = create;
    bool written;
    {
      absl::MutexLock lock(&write_mutex_);
      written = stream_->Write(request);
    }
    if (written) return absl::OkStatus();
    return FinishStream();
  }

  absl::StatusOr<etcdserverpb::WatchResponse> Next() override {
    if (finished_) return absl::CancelledError(absl::StrCat(Prefix(), "the stream has ended"));
    etcdserverpb::WatchResponse response;
    if (stream_->Read(&response)) return response;
    return FinishStream();
  }

  bool RequestProgress() override {
    etcdserverpb::WatchRequest request;
    request.mutable_progress_request();
    absl::MutexLock lock(&write_mutex_);
    return !finished_ && stream_->Write(request);
  }

  void Cancel() override { context_.TryCancel(); }

 private:
  std::string Prefix() const { return absl::StrCat("etcd Watch on ", endpoint_list_, ": "); }

  // Ends the stream and returns why it ended (never OK: a watch does not end by itself).
  // Under write_mutex_, so that no write overlaps Finish().
  absl::Status FinishStream() ABSL_LOCKS_EXCLUDED(write_mutex_) {
    grpc::Status status;
    {
      absl::MutexLock lock(&write_mutex_);
      finished_ = true;
      status = stream_->Finish();
    }
    if (status.ok()) return absl::UnavailableError(absl::StrCat(Prefix(), "etcd ended the stream"));
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat(Prefix(), status.error_message()));
  }

  const std::string endpoint_list_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>>
      stream_;
  absl::Mutex write_mutex_;
  // Written under write_mutex_ (so that RequestProgress never writes to a finished stream), read
  // without it by the reader thread, the only one that sets it.
  std::atomic<bool> finished_{false};
};

}  // namespace

absl::StatusOr<std::string> EtcdTarget(const std::vector<std::string>& endpoints) {
  if (endpoints.empty()) return absl::InvalidArgumentError("no etcd endpoints");
  if (endpoints.size() == 1) return endpoints.front();
  std::optional<AddressFamily> family;
  for (const std::string& endpoint : endpoints) {
    const std::optional<AddressFamily> found = FamilyOf(endpoint);
    if (!found.has_value() || (family.has_value() && *found != *family)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "etcd endpoints ", absl::StrJoin(endpoints, ","),
          ": give the IP address and port of each member, all IPv4 or all IPv6 "
          "(10.0.0.1:2379,10.0.0.2:2379), or one DNS name that resolves to every member"));
    }
    family = found;
  }
  return absl::StrCat(*family == AddressFamily::kIpv4 ? "ipv4:" : "ipv6:",
                      absl::StrJoin(endpoints, ","));
}

std::string PrefixRangeEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) != 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  // Empty, or only 0xff bytes: no key is greater than every key with that prefix, so the range
  // runs to the end of the key space, which etcd spells "\0".
  return std::string(1, '\0');
}

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Connect(const EtcdOptions& options) {
  NDX_ASSIGN_OR_RETURN(std::string target, EtcdTarget(options.endpoints));
  // etcd's members hold certificates of the cluster CA, whose identities are not ndx nodes; the
  // CA alone decides who is a member, so no particular server identity is expected.
  auto credentials = crypto::MakeChannelCredentials(options.tls, std::nullopt);
  if (!credentials.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("etcd client TLS files (", options.tls.cert_file,
                                                   "): ", credentials.status().message()));
  }
  grpc::ChannelArguments args;
  // The policy is ours, whatever a DNS TXT record would say.
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  args.SetServiceConfigJSON(kServiceConfig);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  // A member that comes back (a restart, a healed network) should be used at once, not after
  // gRPC's default backoff of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // A connection attempt to a member that does not answer (a cut network) gives up within the
  // call timeout rather than gRPC's 20 s, so that the creation of a watch stream, which has no
  // deadline, cannot hold a stopping membership for longer than a call would.
  args.SetInt(
      GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
      static_cast<int>(std::max<int64_t>(1000, absl::ToInt64Milliseconds(options.call_timeout))));
  // Watch and keep-alive streams live long: a member that vanished without closing the
  // connection (a cut network) is found by pings. etcd refuses pings more often than every 5 s.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_ENABLE_CHANNELZ, 0);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(target, *credentials, args);
  return std::unique_ptr<EtcdClient>(
      new EtcdClient(options.endpoints, options.call_timeout, std::move(channel)));
}

EtcdClient::EtcdClient(std::vector<std::string> endpoints, absl::Duration call_timeout,
                       std::shared_ptr<grpc::Channel> channel)
    : endpoints_(std::move(endpoints)),
      endpoint_list_(absl::StrJoin(endpoints_, ",")),
      call_timeout_(call_timeout),
      channel_(std::move(channel)),
      kv_(etcdserverpb::KV::NewStub(channel_)),
      watch_(etcdserverpb::Watch::NewStub(channel_)),
      lease_(etcdserverpb::Lease::NewStub(channel_)) {}

const std::vector<std::string>& EtcdClient::endpoints() const { return endpoints_; }

absl::Status EtcdClient::CallError(const char* method, const grpc::Status& status) const {
  return absl::Status(
      static_cast<absl::StatusCode>(status.error_code()),
      absl::StrCat("etcd ", method, " on ", endpoint_list_, ": ", status.error_message()));
}

void EtcdClient::SetDeadline(grpc::ClientContext& context) const {
  context.set_deadline(absl::ToChronoTime(absl::Now() + call_timeout_));
}

absl::StatusOr<etcdserverpb::RangeResponse> EtcdClient::Range(
    const etcdserverpb::RangeRequest& request) {
  grpc::ClientContext context;
  SetDeadline(context);
  etcdserverpb::RangeResponse response;
  grpc::Status status = kv_->Range(&context, request, &response);
  if (!status.ok()) return CallError("Range", status);
  return response;
}

absl::StatusOr<etcdserverpb::PutResponse> EtcdClient::Put(const etcdserverpb::PutRequest& request) {
  grpc::ClientContext context;
  SetDeadline(context);
  etcdserverpb::PutResponse response;
  grpc::Status status = kv_->Put(&context, request, &response);
  if (!status.ok()) return CallError("Put", status);
  return response;
}

absl::StatusOr<etcdserverpb::DeleteRangeResponse> EtcdClient::DeleteRange(
    const etcdserverpb::DeleteRangeRequest& request) {
  grpc::ClientContext context;
  SetDeadline(context);
  etcdserverpb::DeleteRangeResponse response;
  grpc::Status status = kv_->DeleteRange(&context, request, &response);
  if (!status.ok()) return CallError("DeleteRange", status);
  return response;
}

absl::StatusOr<etcdserverpb::TxnResponse> EtcdClient::Txn(const etcdserverpb::TxnRequest& request) {
  grpc::ClientContext context;
  SetDeadline(context);
  etcdserverpb::TxnResponse response;
  grpc::Status status = kv_->Txn(&context, request, &response);
  if (!status.ok()) return CallError("Txn", status);
  return response;
}

absl::StatusOr<etcdserverpb::LeaseGrantResponse> EtcdClient::LeaseGrant(int64_t ttl_seconds) {
  grpc::ClientContext context;
  SetDeadline(context);
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(ttl_seconds);
  etcdserverpb::LeaseGrantResponse response;
  grpc::Status status = lease_->LeaseGrant(&context, request, &response);
  if (!status.ok()) return CallError("LeaseGrant", status);
  if (!response.error().empty()) {
    return absl::UnavailableError(
        absl::StrCat("etcd LeaseGrant on ", endpoint_list_, ": ", response.error()));
  }
  return response;
}

absl::Status EtcdClient::LeaseRevoke(int64_t lease_id) {
  grpc::ClientContext context;
  SetDeadline(context);
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease_id);
  etcdserverpb::LeaseRevokeResponse response;
  grpc::Status status = lease_->LeaseRevoke(&context, request, &response);
  if (!status.ok()) return CallError("LeaseRevoke", status);
  return absl::OkStatus();
}

// One stream per keep-alive: a membership renews a few times per TTL, so a stream's set-up costs
// nothing that matters, and a stream per call needs no state shared between calls (a long-lived
// stream would need a reader, reconnection and a match of responses to requests).
absl::StatusOr<int64_t> EtcdClient::LeaseKeepAliveOnce(int64_t lease_id) {
  grpc::ClientContext context;
  SetDeadline(context);
  RequireLeader(context);
  auto stream = lease_->LeaseKeepAlive(&context);
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(lease_id);
  etcdserverpb::LeaseKeepAliveResponse response;
  // etcd answers each request, then ends the stream when it sees ours closed.
  const bool answered = stream->Write(request) && stream->WritesDone() && stream->Read(&response);
  if (answered) {
    // Nothing more comes; draining keeps Finish() from waiting on an unread message.
    etcdserverpb::LeaseKeepAliveResponse extra;
    while (stream->Read(&extra)) {
    }
  }
  grpc::Status status = stream->Finish();
  if (!answered) {
    if (status.ok()) {
      return absl::UnavailableError(absl::StrCat("etcd LeaseKeepAlive on ", endpoint_list_,
                                                 ": the stream ended without an answer"));
    }
    return CallError("LeaseKeepAlive", status);
  }
  return response.ttl();
}

absl::StatusOr<std::unique_ptr<EtcdClient::WatchStream>> EtcdClient::Watch(
    const etcdserverpb::WatchCreateRequest& create) {
  auto stream = std::make_unique<GrpcWatchStream>(*watch_, endpoint_list_);
  NDX_RETURN_IF_ERROR(stream->Start(create));
  return stream;
}

}  // namespace ndx::cluster
