#include "adapters/adapter_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "crypto/tls.h"

namespace ndx::adapters {
namespace {

// Request fields come from the network: escaped before they reach a log line.
std::string Printable(const std::string& text) { return absl::CHexEscape(text); }

void LogAdapterCall(absl::string_view method, const v1::RequestContext& context,
                    const std::string& dataset, const absl::Status& status, absl::Time start) {
  const std::string request_id = Printable(context.request_id());
  const std::string caller = Printable(context.caller());
  const std::string printable_dataset = Printable(dataset);
  LogCall(spdlog::level::debug,
          {.request_id = request_id,
           .caller = caller,
           .method = method,
           .dataset = printable_dataset,
           .code = status.code(),
           .latency = absl::Now() - start},
          absl::StrCat("purpose=", Printable(context.purpose())));
}

}  // namespace

absl::Status AuthorizeGateway(const absl::StatusOr<crypto::SpiffeId>& peer,
                              const std::string& trust_domain,
                              const std::vector<std::string>& allowed_gateways) {
  if (!peer.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("the caller has no verified identity: ", peer.status().message()));
  }
  if (peer->trust_domain() != trust_domain) {
    return absl::PermissionDeniedError(
        absl::StrCat("caller ", peer->ToString(), " is not of trust domain ", trust_domain));
  }
  if (!peer->is_gateway()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "caller ", peer->ToString(),
        " is not a gateway: an adapter answers only the gateway; read data through the gateway's "
        "Exchange API"));
  }
  if (std::find(allowed_gateways.begin(), allowed_gateways.end(), peer->name()) ==
      allowed_gateways.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat("gateway ", peer->ToString(), " is not in this adapter's allowed_gateways"));
  }
  return absl::OkStatus();
}

AdapterService::AdapterService(const LoadedAdapterConfig& config, const AdapterMetrics* metrics)
    : trust_domain_(config.trust_domain),
      allowed_gateways_(config.allowed_gateways),
      datasets_(config.datasets),
      metrics_(metrics) {}

absl::Status AdapterService::Authorize(const grpc::ServerContext& context) const {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) {
    return absl::UnauthenticatedError("the caller has no verified identity: no TLS session");
  }
  return AuthorizeGateway(crypto::PeerIdentity(*auth), trust_domain_, allowed_gateways_);
}

absl::StatusOr<const ServedDataset*> AdapterService::FindDataset(const std::string& dataset) const {
  auto it = datasets_.find(dataset);
  if (it == datasets_.end()) {
    // Not NOT_FOUND, which the gateway reads as "no record with this key": the gateway and this
    // adapter disagree on where the dataset is served.
    return absl::FailedPreconditionError(
        absl::StrCat("dataset \"", Printable(dataset), "\" is not served by this adapter"));
  }
  return &it->second;
}

namespace {

// The gRPC call's deadline, which the backend's query must not outlive.
absl::Time CallDeadline(const grpc::ServerContext& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

}  // namespace

absl::Status AdapterService::DoFetch(const grpc::ServerContext& context,
                                     const v1::FetchRequest& request,
                                     v1::FetchResponse* response) const {
  NDX_RETURN_IF_ERROR(Authorize(context));
  NDX_ASSIGN_OR_RETURN(const ServedDataset* served, FindDataset(request.dataset()));
  if (request.key().empty()) return absl::InvalidArgumentError("key is empty");
  std::vector<std::string> fields(request.fields().begin(), request.fields().end());
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> record =
      served->backend->Fetch(*served->binding, request.key(), fields, CallDeadline(context));
  if (metrics_ != nullptr) {
    metrics_->ObserveBackend(AdapterMetrics::Method::kFetch, request.dataset(),
                             absl::Now() - start);
  }
  if (!record.ok()) return record.status();
  response->set_record(*std::move(record));
  return absl::OkStatus();
}

absl::Status AdapterService::DoSearch(const grpc::ServerContext& context,
                                      const v1::SearchRequest& request,
                                      v1::SearchResponse* response) const {
  NDX_RETURN_IF_ERROR(Authorize(context));
  NDX_ASSIGN_OR_RETURN(const ServedDataset* served, FindDataset(request.dataset()));
  std::vector<FieldFilter> filters;
  for (const v1::Filter& filter : request.filters()) {
    filters.push_back({filter.field(), filter.value()});
  }
  std::vector<std::string> fields(request.fields().begin(), request.fields().end());
  const absl::Time start = absl::Now();
  absl::StatusOr<SearchPage> searched =
      served->backend->Search(*served->binding, filters, fields, request.page_size(),
                              request.page_token(), CallDeadline(context));
  if (metrics_ != nullptr) {
    metrics_->ObserveBackend(AdapterMetrics::Method::kSearch, request.dataset(),
                             absl::Now() - start);
  }
  if (!searched.ok()) return searched.status();
  SearchPage& page = *searched;
  for (std::string& record : page.records) response->add_records(std::move(record));
  response->set_next_page_token(std::move(page.next_page_token));
  return absl::OkStatus();
}

bool AdapterService::EnterCall() {
  // Sequentially consistent on both sides: either Drain() sees this call counted, or this call
  // sees draining_ set. No call runs unseen.
  in_flight_.fetch_add(1);
  if (!draining_.load()) return true;
  in_flight_.fetch_sub(1);
  return false;
}

bool AdapterService::Drain(absl::Time deadline) {
  draining_.store(true);
  while (in_flight_.load() > 0) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

namespace {

absl::Status Stopping() {
  return absl::UnavailableError("the adapter is stopping; retry on another replica or later");
}

}  // namespace

grpc::Status AdapterService::Fetch(grpc::ServerContext* context, const v1::FetchRequest* request,
                                   v1::FetchResponse* response) {
  absl::Time start = absl::Now();
  absl::Status status = Stopping();
  if (EnterCall()) {
    status = DoFetch(*context, *request, response);
    ExitCall();
  }
  LogAdapterCall("Fetch", request->context(), request->dataset(), status, start);
  if (metrics_ != nullptr) {
    metrics_->ObserveCall(AdapterMetrics::Method::kFetch, request->dataset(), status.code(),
                          absl::Now() - start);
  }
  return ToGrpcStatus(status);
}

grpc::Status AdapterService::Search(grpc::ServerContext* context, const v1::SearchRequest* request,
                                    v1::SearchResponse* response) {
  absl::Time start = absl::Now();
  absl::Status status = Stopping();
  if (EnterCall()) {
    status = DoSearch(*context, *request, response);
    ExitCall();
  }
  LogAdapterCall("Search", request->context(), request->dataset(), status, start);
  if (metrics_ != nullptr) {
    metrics_->ObserveCall(AdapterMetrics::Method::kSearch, request->dataset(), status.code(),
                          absl::Now() - start);
  }
  return ToGrpcStatus(status);
}

}  // namespace ndx::adapters
