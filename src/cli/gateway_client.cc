#include "cli/gateway_client.h"

#include <arpa/inet.h>
#include <grpcpp/create_channel.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "crypto/pki.h"
#include "crypto/spiffe_id.h"
#include "crypto/tls.h"

namespace ndx::cli {

absl::StatusOr<std::string> TrustDomainOfCaFile(const std::string& ca_file) {
  NDX_ASSIGN_OR_RETURN(std::string pem, ReadFile(ca_file));
  absl::StatusOr<crypto::CertificateInfo> info = crypto::InspectCertificate(pem);
  if (!info.ok()) {
    return absl::Status(info.status().code(), absl::StrCat(ca_file, ": ", info.status().message()));
  }
  for (const std::string& uri : info->uris) {
    absl::string_view rest = uri;
    if (!absl::ConsumePrefix(&rest, "spiffe://") || absl::StrContains(rest, '/')) continue;
    if (ValidateTrustDomain(rest).ok()) return std::string(rest);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(ca_file,
                   " names no trust domain (a CA made by `ndxctl pki init` carries the URI SAN "
                   "spiffe://<trust-domain>)"));
}

namespace {

enum class AddressFamily { kIpv4, kIpv6, kOther };

// The family of "a.b.c.d:port" or "[v6]:port"; kOther for anything else (a host name).
AddressFamily FamilyOf(absl::string_view address) {
  std::string host;
  if (absl::StartsWith(address, "[")) {
    size_t close = address.find(']');
    if (close == absl::string_view::npos || !absl::StartsWith(address.substr(close + 1), ":")) {
      return AddressFamily::kOther;
    }
    host = std::string(address.substr(1, close - 1));
    in6_addr parsed;
    return inet_pton(AF_INET6, host.c_str(), &parsed) == 1 ? AddressFamily::kIpv6
                                                           : AddressFamily::kOther;
  }
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return AddressFamily::kOther;
  host = std::string(address.substr(0, colon));
  in_addr parsed;
  return inet_pton(AF_INET, host.c_str(), &parsed) == 1 ? AddressFamily::kIpv4
                                                        : AddressFamily::kOther;
}

bool HasPort(absl::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon + 1 == address.size()) return false;
  uint32_t port = 0;
  return absl::SimpleAtoi(address.substr(colon + 1), &port) && port > 0 && port <= 65535;
}

// The methods whose repetition changes nothing: reads, and Ack, which only moves a position
// forward.
constexpr std::pair<const char*, const char*> kIdempotentMethods[] = {
    {"ndx.v1.Exchange", "Get"},
    {"ndx.v1.Exchange", "Query"},
    {"ndx.v1.Registry", "GetNode"},
    {"ndx.v1.Registry", "ListNodes"},
    {"ndx.v1.Registry", "GetDataset"},
    {"ndx.v1.Registry", "ListDatasets"},
    {"ndx.v1.Registry", "GetGrant"},
    {"ndx.v1.Registry", "ListGrants"},
    {"ndx.v1.Audit", ""},
    {"ndx.v1.Events", "Ack"},
    {"ndx.v1.Events", "ListSubscriptions"},
};

}  // namespace

absl::StatusOr<std::string> GatewayTarget(absl::string_view addresses) {
  if (!absl::StrContains(addresses, ',')) return std::string(addresses);
  const std::vector<absl::string_view> list = absl::StrSplit(addresses, ',');
  std::optional<AddressFamily> family;
  for (absl::string_view address : list) {
    const AddressFamily found = FamilyOf(address);
    if (found == AddressFamily::kOther || !HasPort(address) ||
        (family.has_value() && found != *family)) {
      return UsageError(absl::StrCat(
          "gateway address list \"", absl::CHexEscape(addresses),
          "\": give the IP address and port of each replica, all IPv4 or all IPv6 "
          "(10.0.0.1:8443,10.0.0.2:8443), or one DNS name that resolves to every replica "
          "(dns:///gateway.example:8443)"));
    }
    family = found;
  }
  return absl::StrCat(*family == AddressFamily::kIpv4 ? "ipv4:" : "ipv6:", addresses);
}

grpc::ChannelArguments GatewayChannelArguments(GatewayRetries retries) {
  std::string methods;
  for (const auto& [service, method] : kIdempotentMethods) {
    if (!methods.empty()) methods += ",";
    methods += *method == '\0'
                   ? absl::StrCat(R"({"service":")", service, R"("})")
                   : absl::StrCat(R"({"service":")", service, R"(","method":")", method, R"("})");
  }
  std::string config = R"({"loadBalancingConfig":[{"round_robin":{}}])";
  if (retries == GatewayRetries::kIdempotent) {
    absl::StrAppend(&config, R"(,"methodConfig":[{"name":[)", methods,
                    R"(],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s",)",
                    R"("maxBackoff":"0.2s","backoffMultiplier":2,)",
                    R"("retryableStatusCodes":["UNAVAILABLE"]}}])");
  }
  config += "}";
  grpc::ChannelArguments args;
  // The policy is ours, whatever a DNS TXT record would say.
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  args.SetServiceConfigJSON(config);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, retries == GatewayRetries::kIdempotent ? 1 : 0);
  return args;
}

absl::StatusOr<std::unique_ptr<GatewayClient>> GatewayClient::Connect(
    const ConnectionSettings& settings) {
  // ResolveConnection(kRequired) has checked it; settings made otherwise get the same answer.
  if (!IsValidSegment(settings.gateway_id)) {
    return UsageError(absl::StrCat("gateway id \"", absl::CHexEscape(settings.gateway_id),
                                   "\" is not a gateway name (1 to 63 of a-z, 0-9 and '-'); pass "
                                   "--gateway-id NAME or set gateway_id in the profile"));
  }
  NDX_ASSIGN_OR_RETURN(std::string trust_domain, TrustDomainOfCaFile(settings.tls.ca_file));
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      crypto::MakeChannelCredentials(settings.tls,
                                     crypto::SpiffeId::Gateway(trust_domain, settings.gateway_id));
  if (!credentials.ok()) {
    return absl::Status(credentials.status().code(),
                        absl::StrCat("TLS credentials: ", credentials.status().message()));
  }
  NDX_ASSIGN_OR_RETURN(std::string target, GatewayTarget(settings.gateway));
  // A script wants a failure soon, not a retry loop: idempotent calls get at most 3 attempts,
  // 0.3 s in all, which a replica's death costs them.
  auto client = std::make_unique<GatewayClient>(
      grpc::CreateCustomChannel(target, *credentials,
                                GatewayChannelArguments(GatewayRetries::kIdempotent)),
      settings.timeout_ms);
  client->tls_ = settings.tls;
  return client;
}

GatewayClient::GatewayClient(std::shared_ptr<grpc::Channel> channel, int64_t timeout_ms)
    : channel_(std::move(channel)),
      timeout_ms_(timeout_ms),
      registry_(v1::Registry::NewStub(channel_)),
      exchange_(v1::Exchange::NewStub(channel_)),
      audit_(v1::Audit::NewStub(channel_)),
      events_(v1::Events::NewStub(channel_)) {}

}  // namespace ndx::cli
