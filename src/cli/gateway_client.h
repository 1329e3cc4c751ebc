#ifndef NDX_CLI_GATEWAY_CLIENT_H_
#define NDX_CLI_GATEWAY_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/channel_arguments.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cli/cli_status.h"
#include "cli/profile.h"
#include "crypto/tls.h"
#include "ndx/v1/audit.grpc.pb.h"
#include "ndx/v1/events.grpc.pb.h"
#include "ndx/v1/exchange.grpc.pb.h"
#include "ndx/v1/registry.grpc.pb.h"

namespace ndx::cli {

// The trust domain a CA certificate names in its URI SAN "spiffe://<trust-domain>". Reads and
// parses the PEM at `ca_file`; kInvalidArgument when the certificate names none.
absl::StatusOr<std::string> TrustDomainOfCaFile(const std::string& ca_file);

// The gRPC target for the gateway addresses a user gives (--gateway, the profile's gateway):
//   - one address, "host:port", or any gRPC target such as "dns:///gateway.example:8443", which
//     may resolve to several replicas: as given;
//   - several IP addresses of one family, comma-separated ("10.0.0.1:8443,10.0.0.2:8443" or
//     "[fd00::1]:8443,[fd00::2]:8443"): one target over all of them ("ipv4:...", "ipv6:...").
// kInvalidArgument naming what to give otherwise (a list with a host name, mixed families, an
// empty element): gRPC resolves one name per channel.
absl::StatusOr<std::string> GatewayTarget(absl::string_view addresses);

// Whether a channel retries the calls that may safely run twice.
enum class GatewayRetries { kNone, kIdempotent };

// The arguments of a channel to the gateway, whose replicas may be several addresses: calls are
// spread over every address the target resolves to (round robin; a replica that is down gets
// none until it is back). With kIdempotent, a call that only reads or whose repetition changes
// nothing (Exchange Get and Query, the Registry's Get and List, every Audit call, Events Ack and
// ListSubscriptions) is tried again on UNAVAILABLE, up to 3 attempts, at most 0.1 s then 0.2 s
// apart (gRPC's jittered backoff), each attempt on the next replica. Writes are never retried: a
// write whose answer was lost may have happened.
grpc::ChannelArguments GatewayChannelArguments(GatewayRetries retries);

// ndxctl's connection to the gateway: an mTLS channel presenting the node's certificate, the
// generated clients of the Registry, Exchange, Audit and Events services, and the per-call deadline
// of the unary calls. Thread-compatible (ndxctl calls from one thread).
class GatewayClient {
 public:
  // Makes the channel credentials from the settings' files (kNotFound, kPermissionDenied,
  // kFailedPrecondition for a key readable by others or a certificate the gateway would refuse,
  // ...). The gateway's certificate must be a server leaf carrying exactly
  // spiffe://<trust domain of the CA>/gateway/<settings.gateway_id>, or every call fails
  // UNAVAILABLE saying why; an empty or malformed gateway_id is a usage error, and so is an
  // address list GatewayTarget refuses. Calls are balanced over the gateway's replicas and
  // idempotent ones retried (GatewayChannelArguments).
  // The connection itself is made lazily by the first call.
  static absl::StatusOr<std::unique_ptr<GatewayClient>> Connect(const ConnectionSettings& settings);

  // For tests: stubs on an existing channel.
  GatewayClient(std::shared_ptr<grpc::Channel> channel, int64_t timeout_ms);

  v1::Registry::StubInterface& registry() { return *registry_; }
  v1::Exchange::StubInterface& exchange() { return *exchange_; }
  v1::Audit::StubInterface& audit() { return *audit_; }
  v1::Events::StubInterface& events() { return *events_; }
  // The files the connection presents and trusts; empty for a client made on a test's channel.
  const crypto::TlsFilePaths& tls() const { return tls_; }

  // Runs one unary call `rpc(context, response)` under the deadline. A failed call becomes
  // RpcError (exit 10 + code).
  template <typename Response, typename Rpc>
  absl::StatusOr<Response> Call(Rpc rpc) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms_));
    Response response;
    grpc::Status status = rpc(&context, &response);
    if (!status.ok()) return RpcError(status);
    return response;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  int64_t timeout_ms_;
  std::unique_ptr<v1::Registry::StubInterface> registry_;
  std::unique_ptr<v1::Exchange::StubInterface> exchange_;
  std::unique_ptr<v1::Audit::StubInterface> audit_;
  std::unique_ptr<v1::Events::StubInterface> events_;
  crypto::TlsFilePaths tls_;
};

}  // namespace ndx::cli

#endif  // NDX_CLI_GATEWAY_CLIENT_H_
