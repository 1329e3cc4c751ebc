#include "ndx_bench/bench_call.h"

#include <grpcpp/client_context.h>
#include <grpcpp/support/async_unary_call.h>

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"
#include "ndx/v1/adapter.grpc.pb.h"
#include "ndx/v1/exchange.grpc.pb.h"

namespace ndx::bench {
namespace {

// A BenchCall of one method of a generated service. `refresh`, when set, changes the request
// before each call (the adapter's request id).
template <typename Service, typename Request, typename Response>
class UnaryCall final : public BenchCall {
 public:
  using Stub = typename Service::Stub;
  using Prepare = std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> (Stub::*)(
      grpc::ClientContext*, const Request&, grpc::CompletionQueue*);
  using Refresh = void (*)(Request*);

  UnaryCall(const std::shared_ptr<grpc::Channel>& channel, Prepare prepare, Request request,
            Refresh refresh)
      : stub_(Service::NewStub(channel)),
        prepare_(prepare),
        refresh_(refresh),
        request_(std::move(request)) {}

  void Start(grpc::CompletionQueue* queue, std::chrono::system_clock::time_point deadline,
             void* tag) override {
    // A ClientContext serves one call only.
    reader_.reset();
    context_.reset();
    context_.emplace();
    context_->set_deadline(deadline);
    response_.Clear();
    if (refresh_ != nullptr) refresh_(&request_);
    reader_ = ((*stub_).*prepare_)(&*context_, request_, queue);
    reader_->StartCall();
    reader_->Finish(&response_, &status_, tag);
  }

  const grpc::Status& status() const override { return status_; }
  size_t response_bytes() const override { return status_.ok() ? response_.ByteSizeLong() : 0; }

 private:
  const std::unique_ptr<Stub> stub_;
  const Prepare prepare_;
  const Refresh refresh_;
  Request request_;
  std::optional<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader_;
  Response response_;
  grpc::Status status_;
};

// The gateway's request id format (32 hex digits), fresh for each call like the gateway's.
void SetFreshRequestId(v1::FetchRequest* request) {
  thread_local absl::BitGen bits;
  request->mutable_context()->set_request_id(
      absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(bits), absl::Uniform<uint64_t>(bits)));
}

}  // namespace

BenchCallFactory ExchangeGetCalls(const ReadTarget& target) {
  v1::GetRequest request;
  request.set_dataset(target.dataset);
  request.set_key(target.key);
  request.set_purpose(target.purpose);
  request.mutable_fields()->Assign(target.fields.begin(), target.fields.end());
  return [request](const std::shared_ptr<grpc::Channel>& channel) -> std::unique_ptr<BenchCall> {
    return std::make_unique<UnaryCall<v1::Exchange, v1::GetRequest, v1::GetResponse>>(
        channel, &v1::Exchange::Stub::PrepareAsyncGet, request, nullptr);
  };
}

BenchCallFactory AdapterFetchCalls(const ReadTarget& target) {
  v1::FetchRequest request;
  request.mutable_context()->set_caller(target.caller);
  request.mutable_context()->set_purpose(target.purpose);
  request.set_dataset(target.dataset);
  request.set_key(target.key);
  request.mutable_fields()->Assign(target.fields.begin(), target.fields.end());
  return [request](const std::shared_ptr<grpc::Channel>& channel) -> std::unique_ptr<BenchCall> {
    return std::make_unique<UnaryCall<v1::Adapter, v1::FetchRequest, v1::FetchResponse>>(
        channel, &v1::Adapter::Stub::PrepareAsyncFetch, request, &SetFreshRequestId);
  };
}

grpc::Status CallOnce(const BenchCallFactory& calls, const std::shared_ptr<grpc::Channel>& channel,
                      absl::Duration timeout) {
  grpc::CompletionQueue queue;
  std::unique_ptr<BenchCall> call = calls(channel);
  int tag = 0;
  call->Start(&queue, std::chrono::system_clock::now() + absl::ToChronoMicroseconds(timeout), &tag);
  void* got = nullptr;
  bool ok = false;
  queue.Next(&got, &ok);
  grpc::Status status = call->status();
  queue.Shutdown();
  while (queue.Next(&got, &ok)) {
  }
  return status;
}

}  // namespace ndx::bench
