#ifndef NDX_ADAPTERS_ADAPTER_CONFIG_H_
#define NDX_ADAPTERS_ADAPTER_CONFIG_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "adapters/backend.h"
#include "crypto/tls.h"
#include "ndx/v1/config.pb.h"

namespace ndx::adapters {

// Default of AdapterConfig.max_message_bytes.
inline constexpr int kDefaultMaxMessageBytes = 4 << 20;

// One served dataset: its binding and the backend it is read from (backends are shared by the
// bindings that name the same database).
struct ServedDataset {
  std::shared_ptr<const Binding> binding;
  std::shared_ptr<Backend> backend;
};

// An ndx.v1.AdapterConfig checked and loaded: paths resolved, schemas compiled, databases opened
// and every binding checked against its table. Immutable once loaded; thread-safe to read.
struct LoadedAdapterConfig {
  std::string listen_address;
  crypto::TlsFilePaths tls;
  // The platform's certificate revocation list; empty when none is configured.
  std::string crl_file;
  std::string trust_domain;
  // Gateway names allowed to call; never empty.
  std::vector<std::string> allowed_gateways;
  int max_message_bytes = kDefaultMaxMessageBytes;
  // Checked by metrics::CheckMetricsConfig; no metrics when its listen_address is empty.
  v1::MetricsConfig metrics;
  // By dataset id.
  absl::flat_hash_map<std::string, ServedDataset> datasets;
};

// Whether `identifier` is a plain SQL identifier, [A-Za-z_][A-Za-z0-9_]*: the only table and
// column names the adapter will put in SQL text.
bool IsValidSqlIdentifier(absl::string_view identifier);

// Loads one DatasetBinding (without opening its database): reads and compiles the .proto file
// (a relative path is resolved against `config_path`), finds the message type and the key field,
// checks identifiers, the columns map and that every field can be read from a column. A rest
// binding must leave table and columns empty (its JSON members are matched to fields by name).
// kInvalidArgument (or the file's own error) whose message names the dataset and what to fix.
absl::StatusOr<Binding> LoadBinding(const v1::DatasetBinding& binding,
                                    const std::string& config_path);

// Checks and loads a whole config; `config_path` is the file it came from (relative paths are
// resolved against it). Each database is opened read-only and checked to have the tables and
// columns of its bindings; each REST API's settings and files are checked (the API itself is not
// contacted). Bindings naming the same database, or the same REST base_url, share its backend.
absl::StatusOr<LoadedAdapterConfig> LoadAdapterConfig(const v1::AdapterConfig& config,
                                                      const std::string& config_path);

// Reads a text-format AdapterConfig from `path`, then LoadAdapterConfig.
absl::StatusOr<LoadedAdapterConfig> LoadAdapterConfigFile(const std::string& path);

}  // namespace ndx::adapters

#endif  // NDX_ADAPTERS_ADAPTER_CONFIG_H_
