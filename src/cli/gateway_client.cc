#include "cli/gateway_client.h"

#include <grpcpp/create_channel.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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
  grpc::ChannelArguments args;
  // One attempt per call: a script wants the failure now, not a retry loop.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  auto client = std::make_unique<GatewayClient>(
      grpc::CreateCustomChannel(settings.gateway, *credentials, args), settings.timeout_ms);
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
