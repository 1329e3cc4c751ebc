// Text-format configuration: a gateway's and an adapter's settings, written by hand by provincial
// IT staff. Whatever the text, loading it answers a precise error or a configuration the process
// can run with: an accepted gateway configuration has every setting the gateway reads filled and
// in range, and checking it again changes nothing.
//
// The input is parsed as a GatewayConfig and as an AdapterConfig. The adapter's datasets are
// dropped before its checks, which would otherwise open the files the text names.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "adapters/adapter_config.h"
#include "audit/checkpoint.h"
#include "common/files.h"
#include "common/ids.h"
#include "fuzz_check.h"
#include "gateway/gateway_config.h"
#include "google/protobuf/util/message_differencer.h"
#include "ndx/v1/config.pb.h"

namespace {

constexpr char kOrigin[] = "/nonexistent/fuzz.textproto";

void CheckGatewayConfig(absl::string_view text) {
  ndx::v1::GatewayConfig config;
  if (!ndx::ParseTextProto(text, kOrigin, &config).ok()) return;
  absl::Status finished = ndx::gateway::FinishGatewayConfig(kOrigin, &config);
  if (!finished.ok()) {
    NDX_FUZZ_CHECK(finished.code() == absl::StatusCode::kInvalidArgument,
                   "a refused configuration is kInvalidArgument");
    return;
  }
  NDX_FUZZ_CHECK(!config.listen_address().empty(), "a listen address");
  NDX_FUZZ_CHECK(ndx::ValidateTrustDomain(config.trust_domain()).ok(), "a valid trust domain");
  NDX_FUZZ_CHECK(!config.tls().ca_file().empty() && !config.tls().cert_file().empty() &&
                     !config.tls().key_file().empty(),
                 "the TLS files");
  NDX_FUZZ_CHECK(config.max_message_bytes() > 0 && config.max_message_bytes() <= (1u << 30),
                 "a message size limit within 1 GiB");
  NDX_FUZZ_CHECK(config.adapter_timeout_ms() > 0, "an adapter timeout");
  NDX_FUZZ_CHECK(
      config.default_page_size() > 0 && config.default_page_size() <= config.max_page_size(),
      "a default page size within the maximum");
  NDX_FUZZ_CHECK(config.page_token_lifetime_seconds() > 0, "a page token lifetime");
  NDX_FUZZ_CHECK(!config.audit().dir().empty() && !config.audit().signing_key_file().empty() &&
                     !config.audit().pseudonym_key_file().empty(),
                 "the audit log's files");
  NDX_FUZZ_CHECK(config.audit().checkpoint_interval_seconds() > 0, "a checkpoint interval");
  NDX_FUZZ_CHECK(ndx::v1::Durability_IsValid(config.audit().durability()) &&
                     config.audit().durability() != ndx::v1::DURABILITY_UNSPECIFIED,
                 "a known durability");
  // The origin names the log in every checkpoint it signs: it must be one a checkpoint can carry.
  absl::StatusOr<ndx::crypto::SigningKey> key =
      ndx::crypto::SigningKey::FromRawPrivateKeyForTest(std::string(32, '\x11'));
  NDX_FUZZ_CHECK(key.ok(), "a signing key");
  NDX_FUZZ_CHECK(
      ndx::audit::SignCheckpoint({.origin = config.audit().origin()}, config.audit().origin(), *key)
          .ok(),
      "an audit origin that checkpoints can carry");
  NDX_FUZZ_CHECK(!config.events().dir().empty() && config.events().retention_seconds() > 0 &&
                     config.events().expiry_interval_seconds() > 0,
                 "the event store's settings");
  NDX_FUZZ_CHECK(!config.sealing_key_file().empty(), "a sealing key file");

  ndx::v1::GatewayConfig again = config;
  NDX_FUZZ_CHECK(ndx::gateway::FinishGatewayConfig(kOrigin, &again).ok(),
                 "an accepted configuration is accepted again");
  NDX_FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(again, config),
                 "checking a configuration twice changes nothing");
}

void CheckAdapterConfig(absl::string_view text) {
  ndx::v1::AdapterConfig config;
  if (!ndx::ParseTextProto(text, kOrigin, &config).ok()) return;
  config.clear_datasets();
  absl::StatusOr<ndx::adapters::LoadedAdapterConfig> loaded =
      ndx::adapters::LoadAdapterConfig(config, kOrigin);
  NDX_FUZZ_CHECK(!loaded.ok(), "an adapter configuration without datasets is refused");
  NDX_FUZZ_CHECK(loaded.status().code() == absl::StatusCode::kInvalidArgument,
                 "a refused adapter configuration is kInvalidArgument");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  CheckGatewayConfig(text);
  CheckAdapterConfig(text);
  return 0;
}
