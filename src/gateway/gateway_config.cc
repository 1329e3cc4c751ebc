#include "gateway/gateway_config.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/checkpoint.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "metrics/metrics_config.h"

namespace ndx::gateway {
namespace {

constexpr uint32_t kDefaultMaxMessageBytes = 4 << 20;
constexpr uint32_t kDefaultAdapterTimeoutMs = 5000;
constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kDefaultMaxPageSize = 1000;
constexpr uint64_t kDefaultEventRetentionSeconds = 7 * 24 * 3600;
constexpr uint32_t kDefaultEventExpiryIntervalSeconds = 60;
constexpr uint32_t kDefaultPageTokenLifetimeSeconds = 3600;
constexpr uint32_t kDefaultJsonApiThreads = 16;
constexpr uint32_t kMaxJsonApiThreads = 1024;
constexpr uint32_t kDefaultJsonApiIdleTimeoutSeconds = 30;

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
  v1::AuditLogConfig* audit = config->mutable_audit();
  if (audit->dir().empty()) audit->set_dir(config->data_dir() + "/audit");
  if (audit->durability() == v1::DURABILITY_UNSPECIFIED) {
    audit->set_durability(v1::DURABILITY_POWER_LOSS);
  }
  // Text format takes any number for an open enum: a number that names no durability is a typo,
  // not a choice.
  if (!v1::Durability_IsValid(audit->durability())) {
    return Invalid(origin, absl::StrCat("audit.durability ", audit->durability(),
                                        " is not a durability; give DURABILITY_POWER_LOSS or "
                                        "DURABILITY_PROCESS_CRASH"));
  }
  if (audit->signing_key_file().empty()) {
    audit->set_signing_key_file(audit->dir() + "/checkpoint.key");
  }
  if (audit->pseudonym_key_file().empty()) {
    audit->set_pseudonym_key_file(audit->dir() + "/pseudonym.key");
  }
  if (audit->origin().empty()) audit->set_origin(config->trust_domain() + "/audit");
  // The origin names the log in every checkpoint and is its signing key's name: one that cannot
  // be signed would leave the log without checkpoints, found only at the first one.
  absl::Status log_name = audit::ValidateKeyName(audit->origin());
  if (!log_name.ok()) {
    return Invalid(origin, absl::StrCat("audit.origin \"", absl::CHexEscape(audit->origin()),
                                        "\" cannot name the log: ", log_name.message()));
  }
  if (audit->checkpoint_interval_seconds() == 0) audit->set_checkpoint_interval_seconds(10);
  if (config->sealing_key_file().empty()) {
    config->set_sealing_key_file(config->data_dir() + "/sealing.key");
  }
  if (config->page_token_lifetime_seconds() == 0) {
    config->set_page_token_lifetime_seconds(kDefaultPageTokenLifetimeSeconds);
  }
  v1::EventsConfig* events = config->mutable_events();
  if (events->dir().empty()) events->set_dir(config->data_dir() + "/events");
  if (events->retention_seconds() == 0)
    events->set_retention_seconds(kDefaultEventRetentionSeconds);
  if (events->expiry_interval_seconds() == 0) {
    events->set_expiry_interval_seconds(kDefaultEventExpiryIntervalSeconds);
  }
  if (config->has_json_api()) {
    v1::JsonApiConfig* json_api = config->mutable_json_api();
    if (json_api->threads() == 0) json_api->set_threads(kDefaultJsonApiThreads);
    if (json_api->threads() > kMaxJsonApiThreads) {
      return Invalid(origin, absl::StrCat("json_api.threads is larger than ", kMaxJsonApiThreads));
    }
    if (json_api->idle_timeout_seconds() == 0) {
      json_api->set_idle_timeout_seconds(kDefaultJsonApiIdleTimeoutSeconds);
    }
    if (json_api->listen_address().empty()) {
      return Invalid(origin,
                     "json_api.listen_address is required when json_api is set, e.g. "
                     "\"127.0.0.1:8444\"; leave json_api out for no REST/JSON face");
    }
    if (json_api->listen_address() == config->listen_address() &&
        !absl::EndsWith(json_api->listen_address(), ":0")) {
      return Invalid(origin, "json_api.listen_address must differ from listen_address");
    }
  }
  v1::GrantQuotaConfig* quotas = config->mutable_grant_quotas();
  if (quotas->share() == 0) quotas->set_share(1);
  if (!(quotas->share() > 0 && quotas->share() <= 1)) {
    return Invalid(origin, absl::StrCat("grant_quotas.share is ", quotas->share(),
                                        "; it must be more than 0 and at most 1: the part of "
                                        "each grant's rate limit this gateway enforces, 1/N for "
                                        "N replicas"));
  }
  absl::Status metrics_ok = metrics::CheckMetricsConfig(config->metrics());
  if (!metrics_ok.ok()) return Invalid(origin, metrics_ok.message());
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
  v1::AuditLogConfig* audit = config.mutable_audit();
  audit->set_dir(ResolvePath(audit->dir(), path));
  audit->set_signing_key_file(ResolvePath(audit->signing_key_file(), path));
  audit->set_pseudonym_key_file(ResolvePath(audit->pseudonym_key_file(), path));
  config.mutable_events()->set_dir(ResolvePath(config.events().dir(), path));
  config.set_sealing_key_file(ResolvePath(config.sealing_key_file(), path));
  if (!config.crl_file().empty()) config.set_crl_file(ResolvePath(config.crl_file(), path));
  NDX_RETURN_IF_ERROR(FinishGatewayConfig(path, &config));
  return config;
}

}  // namespace ndx::gateway
