#include "adapters/adapter_service.h"

#include <grpc/grpc_security_constants.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "adapters/sqlite_backend.h"
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
  // Debug lines are off in production: a call then pays for no escaping and no formatting.
  if (!spdlog::default_logger_raw()->should_log(spdlog::level::debug)) return;
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

// Logs a call and sends its status.
// Logs, counts (before the answer, so that a scrape after it sees the call) and answers.
void FinishCall(const AdapterMetrics* metrics, grpc::ServerUnaryReactor* reactor,
                absl::string_view method, const v1::RequestContext& request_context,
                const std::string& dataset, const absl::Status& status, absl::Time start) {
  LogAdapterCall(method, request_context, dataset, status, start);
  if (metrics != nullptr) {
    metrics->ObserveCall(
        method == "Fetch" ? AdapterMetrics::Method::kFetch : AdapterMetrics::Method::kSearch,
        dataset, status.code(), absl::Now() - start);
  }
  reactor->Finish(ToGrpcStatus(status));
}

absl::Status Stopping() {
  return absl::UnavailableError("the adapter is stopping; retry on another replica or later");
}

// The gRPC call's deadline, which the backend's query must not outlive.
absl::Time CallDeadline(const grpc::ServerContextBase& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

std::vector<std::string> AllowedIds(const std::string& trust_domain,
                                    const std::vector<std::string>& allowed_gateways) {
  std::vector<std::string> ids;
  for (const std::string& name : allowed_gateways) {
    const crypto::SpiffeId id = crypto::SpiffeId::Gateway(trust_domain, name);
    std::string text = id.ToString();
    // Only a spelling that parses back to the same id may stand for it; any other name goes the
    // slow way, through ParseSpiffeId and AuthorizeGateway.
    absl::StatusOr<crypto::SpiffeId> parsed = crypto::ParseSpiffeId(text);
    if (parsed.ok() && *parsed == id) ids.push_back(std::move(text));
  }
  return ids;
}

}  // namespace

// Threads for the calls that may wait on something other than this process (see the class
// comment of AdapterService). A thread starts when a call arrives and none is idle, up to
// kMaxThreads; threads then stay, so a steady load starts none. Calls beyond kMaxThreads wait in
// arrival order, their deadlines running. Thread-safe.
class AdapterService::BlockingCalls {
 public:
  // A bound, not a size: backends bound their own connections (8 by default) and calls past
  // those wait in the backend's pool; this only keeps a flood of slow calls from starting a
  // thread each.
  static constexpr size_t kMaxThreads = 256;

  BlockingCalls() = default;
  // REQUIRES: no more Run() (the server has stopped).
  ~BlockingCalls() {
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mutex_);
      stopping_ = true;
      threads.swap(threads_);
    }
    for (std::thread& thread : threads) thread.join();
  }

  void Run(absl::AnyInvocable<void() &&> call) {
    absl::MutexLock lock(&mutex_);
    queue_.push_back(std::move(call));
    if (queue_.size() > idle_ && threads_.size() < kMaxThreads) {
      // Idle from the start: until it takes a call, the next ones count on it.
      ++idle_;
      threads_.emplace_back([this] { Work(); });
    }
  }

 private:
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return stopping_ || !queue_.empty();
  }

  void Work() {
    // Named for profiles and debuggers; it would otherwise keep the name of the gRPC thread
    // that started it.
    pthread_setname_np(pthread_self(), "blocking-calls");
    mutex_.Lock();
    while (true) {
      mutex_.Await(absl::Condition(this, &BlockingCalls::HasWork));
      if (queue_.empty()) break;  // stopping, and nothing left to run
      absl::AnyInvocable<void()&&> call = std::move(queue_.front());
      queue_.pop_front();
      --idle_;
      mutex_.Unlock();
      std::move(call)();
      mutex_.Lock();
      ++idle_;
    }
    mutex_.Unlock();
  }

  absl::Mutex mutex_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mutex_);
  // Threads not running a call.
  size_t idle_ ABSL_GUARDED_BY(mutex_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mutex_);
};

absl::flat_hash_map<std::string, AdapterService::Served> AdapterService::ServedDatasets(
    const absl::flat_hash_map<std::string, ServedDataset>& datasets) {
  absl::flat_hash_map<std::string, Served> served;
  for (const auto& [id, dataset] : datasets) {
    // SQLite reads in this process; every other backend waits on a server or the network.
    const bool local = dynamic_cast<const SqliteBackend*>(dataset.backend.get()) != nullptr;
    served.emplace(id, Served{dataset, local});
  }
  return served;
}

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
      allowed_ids_(AllowedIds(config.trust_domain, config.allowed_gateways)),
      datasets_(ServedDatasets(config.datasets)),
      metrics_(metrics),
      blocking_calls_(std::make_unique<BlockingCalls>()) {}

AdapterService::~AdapterService() = default;

absl::Status AdapterService::Authorize(const grpc::ServerContextBase& context) const {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) {
    return absl::UnauthenticatedError("the caller has no verified identity: no TLS session");
  }
  // The common case without parsing: gRPC sets this property from the verified peer certificate
  // only when it has exactly one URI SAN (see crypto::PeerIdentity), and an allowed gateway's id
  // has one spelling. Anything else takes the full path, which also words the refusal.
  const std::vector<grpc::string_ref> ids =
      auth->FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  if (ids.size() == 1) {
    const absl::string_view id(ids[0].data(), ids[0].size());
    for (const std::string& allowed : allowed_ids_) {
      if (id == allowed) return absl::OkStatus();
    }
  }
  return AuthorizeGateway(crypto::PeerIdentity(*auth), trust_domain_, allowed_gateways_);
}

absl::StatusOr<const AdapterService::Served*> AdapterService::FindDataset(
    const std::string& dataset) const {
  auto it = datasets_.find(dataset);
  if (it == datasets_.end()) {
    // Not NOT_FOUND, which the gateway reads as "no record with this key": the gateway and this
    // adapter disagree on where the dataset is served.
    return absl::FailedPreconditionError(
        absl::StrCat("dataset \"", Printable(dataset), "\" is not served by this adapter"));
  }
  return &it->second;
}

absl::StatusOr<const AdapterService::Served*> AdapterService::Admit(
    const grpc::ServerContextBase& context, const std::string& dataset) const {
  NDX_RETURN_IF_ERROR(Authorize(context));
  return FindDataset(dataset);
}

absl::Status AdapterService::ReadRecord(const grpc::ServerContextBase& context,
                                        const v1::FetchRequest& request, const Served& served,
                                        v1::FetchResponse* response) const {
  if (request.key().empty()) return absl::InvalidArgumentError("key is empty");
  std::vector<std::string> fields(request.fields().begin(), request.fields().end());
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> record = served.dataset.backend->Fetch(
      *served.dataset.binding, request.key(), fields, CallDeadline(context));
  if (metrics_ != nullptr) {
    metrics_->ObserveBackend(AdapterMetrics::Method::kFetch, request.dataset(),
                             absl::Now() - start);
  }
  if (!record.ok()) return record.status();
  response->set_record(*std::move(record));
  return absl::OkStatus();
}

absl::Status AdapterService::ReadPage(const grpc::ServerContextBase& context,
                                      const v1::SearchRequest& request, const Served& served,
                                      v1::SearchResponse* response) const {
  std::vector<FieldFilter> filters;
  for (const v1::Filter& filter : request.filters()) {
    filters.push_back({filter.field(), filter.value()});
  }
  std::vector<std::string> fields(request.fields().begin(), request.fields().end());
  const absl::Time start = absl::Now();
  absl::StatusOr<SearchPage> searched =
      served.dataset.backend->Search(*served.dataset.binding, filters, fields, request.page_size(),
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

void AdapterService::Complete(grpc::ServerUnaryReactor* reactor, absl::string_view method,
                              const v1::RequestContext& request_context, const std::string& dataset,
                              const absl::Status& status, absl::Time start) {
  ExitCall();
  FinishCall(metrics_, reactor, method, request_context, dataset, status, start);
}

grpc::ServerUnaryReactor* AdapterService::Fetch(grpc::CallbackServerContext* context,
                                                const v1::FetchRequest* request,
                                                v1::FetchResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time start = absl::Now();
  if (!EnterCall()) {
    FinishCall(metrics_, reactor, "Fetch", request->context(), request->dataset(), Stopping(),
               start);
    return reactor;
  }
  absl::StatusOr<const Served*> served = Admit(*context, request->dataset());
  if (!served.ok()) {
    Complete(reactor, "Fetch", request->context(), request->dataset(), served.status(), start);
  } else if ((*served)->fetch_on_grpc_thread) {
    Complete(reactor, "Fetch", request->context(), request->dataset(),
             ReadRecord(*context, *request, **served, response), start);
  } else if (int none = 0; waiting_on_grpc_thread_.compare_exchange_strong(none, 1)) {
    // No other read waits on a server on gRPC's threads (see the class comment).
    Complete(reactor, "Fetch", request->context(), request->dataset(),
             ReadRecord(*context, *request, **served, response), start);
    waiting_on_grpc_thread_.store(0);
  } else {
    blocking_calls_->Run([this, context, request, response, reactor, served = *served, start] {
      Complete(reactor, "Fetch", request->context(), request->dataset(),
               ReadRecord(*context, *request, *served, response), start);
    });
  }
  return reactor;
}

grpc::ServerUnaryReactor* AdapterService::Search(grpc::CallbackServerContext* context,
                                                 const v1::SearchRequest* request,
                                                 v1::SearchResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time start = absl::Now();
  if (!EnterCall()) {
    FinishCall(metrics_, reactor, "Search", request->context(), request->dataset(), Stopping(),
               start);
    return reactor;
  }
  absl::StatusOr<const Served*> served = Admit(*context, request->dataset());
  if (!served.ok()) {
    Complete(reactor, "Search", request->context(), request->dataset(), served.status(), start);
  } else {
    blocking_calls_->Run([this, context, request, response, reactor, served = *served, start] {
      Complete(reactor, "Search", request->context(), request->dataset(),
               ReadPage(*context, *request, *served, response), start);
    });
  }
  return reactor;
}

}  // namespace ndx::adapters
