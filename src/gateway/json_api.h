#ifndef NDX_GATEWAY_JSON_API_H_
#define NDX_GATEWAY_JSON_API_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/caller.h"
#include "gateway/exchange_service.h"
#include "http/mtls_server.h"
#include "registry/registry.h"

namespace ndx::gateway {

// The REST/JSON face of the Exchange service, for consumers that cannot speak gRPC:
//   POST /v1/datasets/{dataset}:get    {"key": ..., "purpose": ..., "fields": [...]}
//   POST /v1/datasets/{dataset}:query  {"filters": [{"field": ..., "value": ...}], "purpose": ...,
//                                       "fields": [...], "page_size": N, "page_token": ...}
// answered with the records as JSON of the dataset's schema (json_transcoding.h). A request is
// the same read as its gRPC form, through ExchangeService::StartGet/StartQuery: the client
// certificate's identity (http::MtlsServer checks it as the gRPC port does), authorization,
// projection and the audit record; the request id is in the answer and its "ndx-request-id"
// header. Errors are {"code", "message", "details"} with the HTTP status of the gRPC code. A
// "grpc-timeout" header sets the deadline, as for gRPC. Thread-safe; `exchange` and `registry`
// must outlive it.
class JsonApi {
 public:
  // Starts listening. Errors as http::MtlsServer::Start.
  static absl::StatusOr<std::unique_ptr<JsonApi>> Start(http::ServerOptions options,
                                                        CallerPolicy callers,
                                                        ExchangeService* exchange,
                                                        registry::Registry* registry);

  int port() const { return server_->port(); }

  // Stops accepting; returns once the requests being handled are answered.
  void Stop() { server_->Stop(); }

 private:
  explicit JsonApi(std::unique_ptr<http::MtlsServer> server) : server_(std::move(server)) {}

  std::unique_ptr<http::MtlsServer> server_;
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_JSON_API_H_
