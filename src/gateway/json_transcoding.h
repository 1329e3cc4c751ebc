#ifndef NDX_GATEWAY_JSON_TRANSCODING_H_
#define NDX_GATEWAY_JSON_TRANSCODING_H_

#include <chrono>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "ndx/v1/exchange.pb.h"

namespace ndx::gateway {

// The REST/JSON face's translations between HTTP/JSON and the Exchange messages. JSON names are
// the proto field names (snake_case); the request parsers accept lowerCamelCase too, as
// protobuf's JSON mapping does. Error messages never repeat a value from the body: the body
// holds keys and filter values, which are personal data.

// The HTTP status of a gRPC code, as common gRPC-JSON transcoders map it (OK 200,
// INVALID_ARGUMENT 400, NOT_FOUND 404, PERMISSION_DENIED 403, UNAUTHENTICATED 401,
// RESOURCE_EXHAUSTED 429, DEADLINE_EXCEEDED 504, UNAVAILABLE 503, ...).
int HttpStatusFromCode(absl::StatusCode code);

// The body of POST /v1/datasets/{dataset}:get or :query as the Exchange request of `dataset`
// (from the path). The body is a JSON object of GetRequest / QueryRequest without "dataset" (or
// with the path's). kInvalidArgument naming what is wrong, never a value.
absl::StatusOr<v1::GetRequest> ParseGetBody(absl::string_view dataset, absl::string_view body);
absl::StatusOr<v1::QueryRequest> ParseQueryBody(absl::string_view dataset, absl::string_view body);

// A "grpc-timeout" header value ("250m", "5S": 1 to 8 digits and a unit H M S m u n) as a
// duration; kInvalidArgument otherwise.
absl::StatusOr<std::chrono::nanoseconds> ParseGrpcTimeout(absl::string_view value);

// The answers as JSON: {"record": {...}, "fields": [...], "request_id": "..."} and
// {"records": [...], "fields": [...], "next_page_token": "...", "request_id": "..."}, each record
// the JSON of a `schema` message (proto field names; unset fields left out, as the projection
// removed what the grant does not allow). kInternal when a record does not parse as `schema`.
absl::StatusOr<std::string> GetResponseJson(const v1::GetResponse& response,
                                            const google::protobuf::Descriptor& schema);
absl::StatusOr<std::string> QueryResponseJson(const v1::QueryResponse& response,
                                              const google::protobuf::Descriptor& schema);

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_JSON_TRANSCODING_H_
