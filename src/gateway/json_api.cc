#include "gateway/json_api.h"

#include <chrono>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/retry_delay.h"
#include "gateway/json_transcoding.h"

namespace ndx::gateway {
namespace {

constexpr char kRequestIdHeader[] = "ndx-request-id";

http::Response ErrorResponse(const absl::Status& status, const std::string& request_id) {
  http::Response response;
  response.status = HttpStatusFromCode(status.code());
  response.body = http::ErrorBody(static_cast<int>(status.code()), status.message());
  if (!request_id.empty()) response.headers.emplace_back(kRequestIdHeader, request_id);
  // HTTP's Retry-After counts whole seconds: rounded up, so that a client waiting that long is
  // not refused again for the same reason.
  if (std::optional<absl::Duration> retry = RetryDelayOf(status)) {
    response.headers.emplace_back(
        "Retry-After", absl::StrCat(absl::ToInt64Seconds(absl::Ceil(*retry, absl::Seconds(1)))));
  }
  return response;
}

// The caller of an HTTPS request: its certificate's identity, under the same rules as a gRPC
// caller's (the TLS layer has already checked the chain, the leaf rules and the CRL).
ReadOrigin OriginOf(const http::Request& request, const CallerPolicy& callers,
                    absl::Status* bad_header) {
  // No connection: the face's threads and idle timeout bound its connections (node_limits).
  ReadOrigin origin{.caller = NodeIdOf(request.peer, callers),
                    .deadline = std::chrono::system_clock::time_point::max(),
                    .connection = {}};
  std::string timeout = request.header("grpc-timeout");
  if (!timeout.empty()) {
    absl::StatusOr<std::chrono::nanoseconds> parsed = ParseGrpcTimeout(timeout);
    if (!parsed.ok()) {
      *bad_header = parsed.status();
    } else {
      origin.deadline = std::chrono::system_clock::now() +
                        std::chrono::duration_cast<std::chrono::system_clock::duration>(*parsed);
    }
  }
  return origin;
}

// Runs one read to its end on the calling thread (an HTTPS server thread), then writes its answer
// with `to_json` when it succeeded.
template <typename Request, typename Response, typename Start, typename ToJson>
http::Response Serve(const http::Request& http_request, const CallerPolicy& callers,
                     registry::Registry* registry, absl::StatusOr<Request> parsed, Start start,
                     ToJson to_json) {
  absl::Status bad_header;
  ReadOrigin origin = OriginOf(http_request, callers, &bad_header);
  if (!bad_header.ok()) return ErrorResponse(bad_header, "");
  // A body that is not a request is refused before it becomes a read, as gRPC refuses a message
  // that does not parse: there is no request to decide on or to audit.
  if (!parsed.ok()) return ErrorResponse(parsed.status(), "");
  Request request = *std::move(parsed);
  Response response;
  absl::Notification answered;
  absl::Status outcome;
  std::string request_id;
  start(std::move(origin), &request, &response, [&](absl::Status status, const std::string& id) {
    outcome = std::move(status);
    request_id = id;
    answered.Notify();
  });
  answered.WaitForNotification();
  if (!outcome.ok()) return ErrorResponse(outcome, request_id);
  // The records are of the dataset's schema as the registry holds it now; the read used the
  // snapshot of its own time, so a schema changed in between is reported, not guessed at.
  std::shared_ptr<const registry::Snapshot> snapshot = registry->snapshot();
  const registry::DatasetEntry* dataset = snapshot->FindDataset(request.dataset());
  absl::StatusOr<std::string> json =
      dataset == nullptr
          ? absl::UnavailableError(absl::StrCat("dataset ", request.dataset(),
                                                " was removed while it was read; try again"))
          : to_json(response, *dataset->descriptor);
  if (!json.ok()) return ErrorResponse(json.status(), request_id);
  http::Response answer;
  answer.body = *std::move(json);
  answer.headers.emplace_back(kRequestIdHeader, request_id);
  return answer;
}

}  // namespace

absl::StatusOr<std::unique_ptr<JsonApi>> JsonApi::Start(http::ServerOptions options,
                                                        CallerPolicy callers,
                                                        ExchangeService* exchange,
                                                        registry::Registry* registry) {
  std::vector<http::Route> routes;
  routes.push_back({.method = "POST",
                    .pattern = R"(/v1/datasets/(.+):get)",
                    .handler = [callers, exchange, registry](const http::Request& request) {
                      const std::string& dataset = request.path_groups[0];
                      return Serve<v1::GetRequest, v1::GetResponse>(
                          request, callers, registry, ParseGetBody(dataset, request.body),
                          [exchange](ReadOrigin origin, const v1::GetRequest* get,
                                     v1::GetResponse* response, ReadDone done) {
                            exchange->StartGet(std::move(origin), get, response, std::move(done));
                          },
                          GetResponseJson);
                    }});
  routes.push_back({.method = "POST",
                    .pattern = R"(/v1/datasets/(.+):query)",
                    .handler = [callers, exchange, registry](const http::Request& request) {
                      const std::string& dataset = request.path_groups[0];
                      return Serve<v1::QueryRequest, v1::QueryResponse>(
                          request, callers, registry, ParseQueryBody(dataset, request.body),
                          [exchange](ReadOrigin origin, const v1::QueryRequest* query,
                                     v1::QueryResponse* response, ReadDone done) {
                            exchange->StartQuery(std::move(origin), query, response,
                                                 std::move(done));
                          },
                          QueryResponseJson);
                    }});
  absl::StatusOr<std::unique_ptr<http::MtlsServer>> server =
      http::MtlsServer::Start(std::move(options), std::move(routes));
  if (!server.ok()) return server.status();
  return std::unique_ptr<JsonApi>(new JsonApi(*std::move(server)));
}

}  // namespace ndx::gateway
