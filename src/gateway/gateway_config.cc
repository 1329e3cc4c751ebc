#include "gateway/gateway_config.h"

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/status_macros.h"

namespace ndx::gateway {
namespace {

constexpr uint32_t kDefaultMaxMessageBytes = 4 << 20;
constexpr uint32_t kDefaultAdapterTimeoutMs = 5000;
constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kDefaultMaxPageSize = 1000;

absl::Status Invalid(const std::string& origin, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(origin, ": ", message));
}

}  // namespace

absl::Status FinishGatewayConfig(const std::string& origin, v1::GatewayConfig* config) {
  if (config->listen_address().empty()) {
    return Invalid(origin, "listen_address is required, e.g. \"127.0.0.1:8443\"");
  }
  if (!ValidateTrustDomain(config->trust_domain()).ok()) {
    return Invalid(origin, absl::StrCat("trust_domain \"", config->trust_domain(),
                                        "\" is missing or malformed, e.g. \"ndx.gov.vn\""));
  }
  if (config->tls().ca_file().empty() || config->tls().cert_file().empty() ||
      config->tls().key_file().empty()) {
    return Invalid(origin, "tls { ca_file cert_file key_file } are all required");
  }
  if (config->data_dir().empty()) return Invalid(origin, "data_dir is required");
  for (const std::string& id : config->bootstrap_operators()) {
    absl::Status valid = ValidateNodeId(id);
    if (!valid.ok()) return Invalid(origin, absl::StrCat("bootstrap_operators: ", valid.message()));
  }
  if (config->max_message_bytes() == 0) config->set_max_message_bytes(kDefaultMaxMessageBytes);
  if (config->max_message_bytes() > (1u << 30)) {
    return Invalid(origin, "max_message_bytes is larger than 1 GiB");
  }
  if (config->adapter_timeout_ms() == 0) config->set_adapter_timeout_ms(kDefaultAdapterTimeoutMs);
  if (config->max_page_size() == 0) config->set_max_page_size(kDefaultMaxPageSize);
  if (config->default_page_size() == 0) {
    config->set_default_page_size(std::min(kDefaultPageSize, config->max_page_size()));
  }
  if (config->default_page_size() > config->max_page_size()) {
    return Invalid(origin, "default_page_size is larger than max_page_size");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::GatewayConfig> LoadGatewayConfig(const std::string& path) {
  v1::GatewayConfig config;
  NDX_RETURN_IF_ERROR(LoadTextProto(path, &config));
  v1::TlsFiles* tls = config.mutable_tls();
  tls->set_ca_file(ResolvePath(tls->ca_file(), path));
  tls->set_cert_file(ResolvePath(tls->cert_file(), path));
  tls->set_key_file(ResolvePath(tls->key_file(), path));
  config.set_data_dir(ResolvePath(config.data_dir(), path));
  config.set_decision_log_file(ResolvePath(config.decision_log_file(), path));
  NDX_RETURN_IF_ERROR(FinishGatewayConfig(path, &config));
  return config;
}

}  // namespace ndx::gateway
