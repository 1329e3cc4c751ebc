#include "adapters/adapter_config.h"

#include <filesystem>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/postgresql_backend.h"
#include "adapters/rest_backend.h"
#include "adapters/sqlite_backend.h"
#include "common/field_text.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/schema.h"
#include "common/status_macros.h"
#include "metrics/metrics_config.h"

namespace ndx::adapters {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// The same error with `prefix` in front of its message, so that it says where in the config.
absl::Status Prefixed(const absl::Status& status, absl::string_view prefix) {
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

absl::Status Invalid(absl::string_view prefix, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(prefix, message));
}

std::string FieldNames(const Descriptor& message) {
  std::vector<std::string> names;
  for (int i = 0; i < message.field_count(); ++i) names.push_back(message.field(i)->name());
  return absl::StrJoin(names, ", ");
}

absl::Status CheckIdentifier(absl::string_view prefix, absl::string_view what,
                             absl::string_view identifier) {
  if (IsValidSqlIdentifier(identifier)) return absl::OkStatus();
  return Invalid(prefix, absl::StrCat(what, " \"", absl::CHexEscape(identifier),
                                      "\" is not a plain SQL identifier: use letters, digits "
                                      "and '_', not starting with a digit (create a view to "
                                      "expose other names)"));
}

// The backend `binding` reads from, opened once per database: `backends` holds those opened, by
// what identifies the database (a resolved path, a connection string).
absl::StatusOr<std::shared_ptr<Backend>> OpenBackend(
    const v1::DatasetBinding& binding, const std::string& config_path,
    absl::flat_hash_map<std::string, std::shared_ptr<Backend>>* backends) {
  const std::string& dataset = binding.dataset();
  switch (binding.backend_case()) {
    case v1::DatasetBinding::kSqlite: {
      if (binding.sqlite().path().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("dataset ", dataset, ": sqlite.path is empty"));
      }
      const std::string path = ResolvePath(binding.sqlite().path(), config_path);
      std::shared_ptr<Backend>& backend = (*backends)[absl::StrCat("sqlite:", path)];
      if (backend == nullptr) {
        absl::StatusOr<std::unique_ptr<SqliteBackend>> opened =
            SqliteBackend::Open(path, SqliteBackendOptions());
        if (!opened.ok()) return Prefixed(opened.status(), absl::StrCat("dataset ", dataset, ": "));
        backend = std::move(*opened);
      }
      return backend;
    }
    case v1::DatasetBinding::kPostgresql: {
      const v1::PostgresqlBackend& settings = binding.postgresql();
      if (settings.connection().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "dataset ", dataset,
            ": postgresql.connection is empty; give libpq's connection string, e.g. \"host=db "
            "port=5432 dbname=population user=ndx_reader\""));
      }
      std::shared_ptr<Backend>& backend =
          (*backends)[absl::StrCat("postgresql:", settings.connection())];
      if (backend == nullptr) {
        PostgresqlBackendOptions options{.connection = settings.connection()};
        if (settings.max_connections() != 0) {
          options.max_connections = static_cast<int>(std::min(settings.max_connections(), 1024u));
        }
        if (settings.statement_timeout_ms() != 0) {
          options.statement_timeout = absl::Milliseconds(settings.statement_timeout_ms());
        }
        absl::StatusOr<std::unique_ptr<PostgresqlBackend>> opened =
            PostgresqlBackend::Open(options);
        if (!opened.ok()) return Prefixed(opened.status(), absl::StrCat("dataset ", dataset, ": "));
        backend = std::move(*opened);
      }
      return backend;
    }
    case v1::DatasetBinding::kRest: {
      const v1::RestBackend& settings = binding.rest();
      RestBackendOptions options;
      options.base_url = settings.base_url();
      options.ca_file = ResolvePath(settings.ca_file(), config_path);
      options.cert_file = ResolvePath(settings.cert_file(), config_path);
      options.key_file = ResolvePath(settings.key_file(), config_path);
      options.bearer_token_file = ResolvePath(settings.bearer_token_file(), config_path);
      options.search_path = settings.search_path();
      if (settings.max_connections() != 0) {
        options.max_connections = static_cast<int>(std::min(settings.max_connections(), 1024u));
      }
      if (settings.timeout_ms() != 0) options.timeout = absl::Milliseconds(settings.timeout_ms());
      // One pool per API: bindings naming the same base_url share its connections, and so must
      // agree on how to reach it.
      std::shared_ptr<Backend>& backend = (*backends)[absl::StrCat("rest:", settings.base_url())];
      if (backend == nullptr) {
        absl::StatusOr<std::unique_ptr<RestBackend>> opened = RestBackend::Open(options);
        if (!opened.ok()) return Prefixed(opened.status(), absl::StrCat("dataset ", dataset, ": "));
        backend = std::move(*opened);
      } else if (static_cast<const RestBackend&>(*backend).options() != options) {
        return absl::InvalidArgumentError(absl::StrCat(
            "dataset ", dataset,
            ": another dataset uses the same rest.base_url with other settings; bindings of one "
            "base_url share its connections, so give them the same rest settings"));
      }
      return backend;
    }
    case v1::DatasetBinding::BACKEND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("dataset ", dataset,
                   " has no backend; give sqlite { path: \"...\" }, postgresql { connection: "
                   "\"...\" } or rest { base_url: \"https://...\" ca_file: \"...\" }"));
}

}  // namespace

bool IsValidSqlIdentifier(absl::string_view identifier) {
  if (identifier.empty()) return false;
  auto is_start = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  };
  if (!is_start(identifier[0])) return false;
  for (char c : identifier) {
    if (!is_start(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

absl::StatusOr<Binding> LoadBinding(const v1::DatasetBinding& config,
                                    const std::string& config_path) {
  const std::string prefix = absl::StrCat("dataset ", config.dataset(), ": ");
  NDX_RETURN_IF_ERROR(ValidateDatasetId(config.dataset()));
  if (config.proto_file().empty()) return Invalid(prefix, "proto_file is empty");
  if (config.message_type().empty()) {
    return Invalid(prefix, "message_type is empty; give the full name, e.g. \"civil.v1.Birth\"");
  }
  if (config.key_field().empty()) return Invalid(prefix, "key_field is empty");
  // A rest backend reads the agency's API, whose JSON members are matched to fields by name:
  // table and columns mean nothing there, and are refused rather than silently ignored.
  const bool rest = config.backend_case() == v1::DatasetBinding::kRest;
  if (rest && !config.table().empty()) {
    return Invalid(prefix,
                   "table does not apply to a rest backend (records come from the agency's API, "
                   "not a table); remove it");
  }
  if (rest && !config.columns().empty()) {
    return Invalid(prefix,
                   "columns does not apply to a rest backend (JSON members are matched to fields "
                   "by the field's name or its lowerCamelCase JSON name); remove it");
  }
  if (!rest) NDX_RETURN_IF_ERROR(CheckIdentifier(prefix, "table", config.table()));

  const std::string proto_path = ResolvePath(config.proto_file(), config_path);
  absl::StatusOr<std::string> source = ReadFile(proto_path);
  if (!source.ok()) return Prefixed(source.status(), absl::StrCat(prefix, "proto_file: "));
  absl::StatusOr<google::protobuf::FileDescriptorSet> file_set =
      CompileProtoFile(std::filesystem::path(proto_path).filename().string(), *source);
  if (!file_set.ok()) {
    return Prefixed(file_set.status(), absl::StrCat(prefix, "proto_file ", proto_path, ": "));
  }
  absl::StatusOr<std::shared_ptr<const Schema>> schema = Schema::Load(*file_set);
  if (!schema.ok()) return Prefixed(schema.status(), prefix);

  Binding binding;
  binding.dataset = config.dataset();
  binding.schema = *schema;
  binding.table = config.table();
  absl::StatusOr<const Descriptor*> message = binding.schema->FindMessage(config.message_type());
  if (!message.ok()) {
    // The compiled file is the last of the set (its imports come first).
    const google::protobuf::FileDescriptorProto& file = file_set->file(file_set->file_size() - 1);
    std::vector<std::string> types;
    for (const auto& type : file.message_type()) {
      types.push_back(file.package().empty() ? type.name()
                                             : absl::StrCat(file.package(), ".", type.name()));
    }
    return Invalid(prefix, absl::StrCat("message_type \"", config.message_type(), "\" is not in ",
                                        proto_path, " (its top-level messages: ",
                                        types.empty() ? "none" : absl::StrJoin(types, ", "), ")"));
  }
  binding.message = *message;

  for (const auto& [field_name, column] : config.columns()) {
    if (binding.message->FindFieldByName(field_name) == nullptr) {
      return Invalid(prefix,
                     absl::StrCat("columns maps \"", absl::CHexEscape(field_name),
                                  "\", which is not a field of ", binding.message->full_name(),
                                  " (fields: ", FieldNames(*binding.message), ")"));
    }
    NDX_RETURN_IF_ERROR(
        CheckIdentifier(prefix, absl::StrCat("the column of field \"", field_name, "\""), column));
  }
  const FieldDescriptor* key = binding.message->FindFieldByName(config.key_field());
  if (key == nullptr) {
    return Invalid(prefix, absl::StrCat("key_field \"", config.key_field(), "\" is not a field of ",
                                        binding.message->full_name(),
                                        " (fields: ", FieldNames(*binding.message), ")"));
  }
  absl::Status key_ok = CheckKeyField(*key);
  if (!key_ok.ok()) return Prefixed(key_ok, prefix);

  for (int i = 0; i < binding.message->field_count(); ++i) {
    const FieldDescriptor* field = binding.message->field(i);
    absl::Status supported = CheckSupportedField(*field);
    if (!supported.ok()) return Prefixed(supported, prefix);
    auto mapped = config.columns().find(field->name());
    FieldBinding field_binding{field,
                               mapped != config.columns().end() ? mapped->second : field->name()};
    // A field read from the column of its own name needs that name to be an identifier too.
    if (!rest) {
      NDX_RETURN_IF_ERROR(
          CheckIdentifier(prefix, absl::StrCat("the column of field \"", field->name(), "\""),
                          field_binding.column));
    }
    if (field == key) binding.key_index = static_cast<int>(binding.fields.size());
    binding.fields.push_back(std::move(field_binding));
  }
  return binding;
}

absl::StatusOr<LoadedAdapterConfig> LoadAdapterConfig(const v1::AdapterConfig& config,
                                                      const std::string& config_path) {
  const std::string prefix = absl::StrCat(config_path, ": ");
  LoadedAdapterConfig loaded;
  if (config.listen_address().empty()) {
    return Invalid(prefix,
                   "listen_address is empty; give host:port, e.g. \"127.0.0.1:7443\" (port 0 "
                   "picks a free port)");
  }
  loaded.listen_address = config.listen_address();
  const v1::TlsFiles& tls = config.tls();
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string*>{"ca_file", &tls.ca_file()},
        {"cert_file", &tls.cert_file()},
        {"key_file", &tls.key_file()}}) {
    if (value->empty()) {
      return Invalid(prefix, absl::StrCat("tls.", name,
                                          " is empty; the adapter serves mTLS only and needs the "
                                          "CA certificate, its certificate and its key"));
    }
  }
  loaded.tls = {ResolvePath(tls.ca_file(), config_path), ResolvePath(tls.cert_file(), config_path),
                ResolvePath(tls.key_file(), config_path)};
  if (config.trust_domain().empty()) {
    return Invalid(prefix, "trust_domain is empty; give the platform's, e.g. \"ndx.gov.vn\"");
  }
  absl::Status trust_domain_ok = ValidateTrustDomain(config.trust_domain());
  if (!trust_domain_ok.ok()) return Prefixed(trust_domain_ok, prefix);
  loaded.trust_domain = config.trust_domain();
  if (!config.crl_file().empty()) loaded.crl_file = ResolvePath(config.crl_file(), config_path);
  absl::Status metrics_ok = metrics::CheckMetricsConfig(config.metrics());
  if (!metrics_ok.ok()) return Prefixed(metrics_ok, prefix);
  loaded.metrics = config.metrics();
  for (const std::string& gateway : config.allowed_gateways()) {
    if (!IsValidSegment(gateway)) {
      return Invalid(prefix, absl::StrCat("allowed_gateways has \"", absl::CHexEscape(gateway),
                                          "\", which is not a gateway name (1-63 characters of "
                                          "a-z, 0-9 and '-', e.g. \"core\")"));
    }
    loaded.allowed_gateways.push_back(gateway);
  }
  // The adapter pins the gateways it answers as the gateway pins the adapter it calls: any other
  // holder of a gateway certificate of the platform is refused.
  if (loaded.allowed_gateways.empty()) {
    return Invalid(prefix,
                   "allowed_gateways is empty; list the names of the gateways this adapter "
                   "answers, e.g. allowed_gateways: \"core\" for the gateway whose certificate is "
                   "spiffe://<trust domain>/gateway/core");
  }
  if (config.max_message_bytes() > static_cast<uint32_t>(std::numeric_limits<int>::max())) {
    return Invalid(prefix, absl::StrCat("max_message_bytes is ", config.max_message_bytes(),
                                        "; the limit is ", std::numeric_limits<int>::max()));
  }
  if (config.max_message_bytes() != 0) {
    loaded.max_message_bytes = static_cast<int>(config.max_message_bytes());
  }
  if (config.datasets().empty()) {
    return Invalid(prefix, "datasets is empty; bind at least one dataset to a table");
  }

  // Bindings naming the same database share its backend (and its connection pool).
  absl::flat_hash_map<std::string, std::shared_ptr<Backend>> backends;
  for (int i = 0; i < config.datasets_size(); ++i) {
    const v1::DatasetBinding& dataset = config.datasets(i);
    const std::string where = absl::StrCat(prefix, "datasets[", i, "]: ");
    absl::StatusOr<Binding> binding = LoadBinding(dataset, config_path);
    if (!binding.ok()) return Prefixed(binding.status(), where);
    if (loaded.datasets.contains(dataset.dataset())) {
      return Invalid(where, absl::StrCat("dataset ", dataset.dataset(),
                                         " is bound twice; each dataset has one table"));
    }
    absl::StatusOr<std::shared_ptr<Backend>> backend = OpenBackend(dataset, config_path, &backends);
    if (!backend.ok()) return Prefixed(backend.status(), where);
    absl::Status checked = (*backend)->CheckBinding(*binding);
    if (!checked.ok()) return Prefixed(checked, where);
    loaded.datasets[dataset.dataset()] =
        ServedDataset{std::make_shared<const Binding>(*std::move(binding)), *std::move(backend)};
  }
  return loaded;
}

absl::StatusOr<LoadedAdapterConfig> LoadAdapterConfigFile(const std::string& path) {
  v1::AdapterConfig config;
  NDX_RETURN_IF_ERROR(LoadTextProto(path, &config));
  return LoadAdapterConfig(config, path);
}

}  // namespace ndx::adapters
