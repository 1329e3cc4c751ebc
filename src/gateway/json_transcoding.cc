#include "gateway/json_transcoding.h"

#include <memory>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"

namespace ndx::gateway {
namespace {

// protobuf's JSON parser names the offending value in its messages; ours name the fields only.
absl::Status BadBody(absl::string_view operation, absl::string_view fields) {
  return absl::InvalidArgumentError(
      absl::StrCat("the body of :", operation, " must be a JSON object with ", fields,
                   " (strings, except as noted), and nothing else; check the names and types"));
}

template <typename Request>
absl::StatusOr<Request> ParseBody(absl::string_view dataset, absl::string_view body,
                                  absl::string_view operation, absl::string_view fields) {
  Request request;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (!google::protobuf::util::JsonStringToMessage(
           google::protobuf::StringPiece(body.data(), body.size()), &request, options)
           .ok()) {
    return BadBody(operation, fields);
  }
  if (!request.dataset().empty() && request.dataset() != dataset) {
    return absl::InvalidArgumentError(absl::StrCat("the body names dataset ", request.dataset(),
                                                   " but the path names ", dataset,
                                                   "; leave \"dataset\" out of the body"));
  }
  request.set_dataset(std::string(dataset));
  return request;
}

// A record as JSON, parsed into a message of `schema`.
absl::StatusOr<nlohmann::json> RecordJson(const google::protobuf::Any& record,
                                          const google::protobuf::Descriptor& schema,
                                          google::protobuf::DynamicMessageFactory& factory) {
  std::unique_ptr<google::protobuf::Message> message(factory.GetPrototype(&schema)->New());
  if (!message->ParseFromString(record.value())) {
    return absl::InternalError(
        absl::StrCat("a record of type ", schema.full_name(), " does not parse as its schema"));
  }
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(*message, &json, options).ok()) {
    return absl::InternalError(
        absl::StrCat("a record of type ", schema.full_name(), " cannot be written as JSON"));
  }
  return nlohmann::json::parse(json);
}

nlohmann::json Fields(const google::protobuf::RepeatedPtrField<std::string>& fields) {
  return nlohmann::json(std::vector<std::string>(fields.begin(), fields.end()));
}

}  // namespace

int HttpStatusFromCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:  // kUnknown, kInternal, kDataLoss
      return 500;
  }
}

absl::StatusOr<v1::GetRequest> ParseGetBody(absl::string_view dataset, absl::string_view body) {
  return ParseBody<v1::GetRequest>(dataset, body, "get",
                                   "\"key\", \"purpose\" and \"fields\" (an array of names)");
}

absl::StatusOr<v1::QueryRequest> ParseQueryBody(absl::string_view dataset, absl::string_view body) {
  return ParseBody<v1::QueryRequest>(
      dataset, body, "query",
      "\"filters\" (an array of {\"field\", \"value\"}), \"purpose\", \"fields\" (an array of "
      "names), \"page_size\" (a number) and \"page_token\"");
}

absl::StatusOr<std::chrono::nanoseconds> ParseGrpcTimeout(absl::string_view value) {
  const absl::Status invalid = absl::InvalidArgumentError(
      "header grpc-timeout must be 1 to 8 digits and a unit (H, M, S, m, u, n), e.g. 500m");
  if (value.size() < 2 || value.size() > 9) return invalid;
  absl::string_view digits = value.substr(0, value.size() - 1);
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return invalid;
  }
  int64_t amount = 0;
  if (!absl::SimpleAtoi(digits, &amount)) return invalid;
  switch (value.back()) {
    case 'H':
      return std::chrono::hours(amount);
    case 'M':
      return std::chrono::minutes(amount);
    case 'S':
      return std::chrono::seconds(amount);
    case 'm':
      return std::chrono::milliseconds(amount);
    case 'u':
      return std::chrono::microseconds(amount);
    case 'n':
      return std::chrono::nanoseconds(amount);
    default:
      return invalid;
  }
}

absl::StatusOr<std::string> GetResponseJson(const v1::GetResponse& response,
                                            const google::protobuf::Descriptor& schema) {
  google::protobuf::DynamicMessageFactory factory;
  NDX_ASSIGN_OR_RETURN(nlohmann::json record, RecordJson(response.record(), schema, factory));
  nlohmann::json body = {{"record", std::move(record)},
                         {"fields", Fields(response.fields())},
                         {"request_id", response.request_id()}};
  return body.dump();
}

absl::StatusOr<std::string> QueryResponseJson(const v1::QueryResponse& response,
                                              const google::protobuf::Descriptor& schema) {
  google::protobuf::DynamicMessageFactory factory;
  nlohmann::json records = nlohmann::json::array();
  for (const google::protobuf::Any& record : response.records()) {
    NDX_ASSIGN_OR_RETURN(nlohmann::json json, RecordJson(record, schema, factory));
    records.push_back(std::move(json));
  }
  nlohmann::json body = {{"records", std::move(records)},
                         {"fields", Fields(response.fields())},
                         {"next_page_token", response.next_page_token()},
                         {"request_id", response.request_id()}};
  return body.dump();
}

}  // namespace ndx::gateway
