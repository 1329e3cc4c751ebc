#include "cli/output.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace ndx::cli {

using google::protobuf::util::TimeUtil;

absl::StatusOr<GatewayClient*> CommandContext::client() {
  if (client_ == nullptr) {
    NDX_ASSIGN_OR_RETURN(client_, connector_());
  }
  return client_.get();
}

absl::StatusOr<std::string> MessageToJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = pretty;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print ", message.GetTypeName(), " as JSON: ", status.ToString()));
  }
  // add_whitespace ends the document with a newline; callers add their own.
  while (!json.empty() && json.back() == '\n') json.pop_back();
  return json;
}

absl::Status PrintMessageJson(std::ostream& out, const google::protobuf::Message& message) {
  NDX_ASSIGN_OR_RETURN(std::string json, MessageToJson(message));
  out << json << '\n';
  return absl::OkStatus();
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  if (timestamp.seconds() == 0 && timestamp.nanos() == 0) return "";
  return FormatUtc(absl::FromUnixSeconds(timestamp.seconds()));
}

std::string FormatUtc(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  return TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(time));
}

absl::StatusOr<RecordDecoder> RecordDecoder::ForDataset(const v1::Dataset& dataset) {
  absl::StatusOr<std::shared_ptr<const Schema>> schema = Schema::Load(dataset.schema());
  if (!schema.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("schema of dataset ", dataset.id(),
                                                   " does not load: ", schema.status().message()));
  }
  absl::StatusOr<const google::protobuf::Descriptor*> type =
      (*schema)->FindMessage(dataset.message_type());
  if (!type.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("schema of dataset ", dataset.id(), ": ", type.status().message()));
  }
  return RecordDecoder(*std::move(schema), *type);
}

absl::StatusOr<nlohmann::ordered_json> RecordDecoder::Decode(
    const google::protobuf::Any& record, const std::vector<std::string>& fields) const {
  const std::string& type_name = type_->full_name();
  if (!absl::EndsWith(record.type_url(), absl::StrCat("/", type_name))) {
    return absl::InvalidArgumentError(
        absl::StrCat("record of type ", record.type_url(), " is not a ", type_name));
  }
  std::unique_ptr<google::protobuf::Message> message = schema_->NewMessage(type_);
  if (!message->ParseFromString(record.value())) {
    return absl::InvalidArgumentError(absl::StrCat("record is not a valid ", type_name));
  }
  // Every scalar is printed, then only the returned fields are kept: a returned field holding
  // its default value (0, "") shows, and a field that was not returned does not.
  NDX_ASSIGN_OR_RETURN(std::string json, MessageToJson(*message, /*pretty=*/false));
  nlohmann::ordered_json all = nlohmann::ordered_json::parse(json, nullptr, false);
  if (all.is_discarded() || !all.is_object()) {
    return absl::InternalError(absl::StrCat("JSON of a ", type_name, " does not parse back"));
  }
  nlohmann::ordered_json kept = nlohmann::ordered_json::object();
  for (const std::string& field : fields) {
    auto it = all.find(field);
    if (it != all.end()) kept[field] = *it;
  }
  return kept;
}

}  // namespace ndx::cli
