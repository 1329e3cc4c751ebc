#include "gateway/adapter_call_metrics.h"

#include <chrono>

#include "absl/time/time.h"

namespace ndx::gateway {
namespace {

// Times one call; gRPC deletes it when the call ends.
class CallTimer final : public grpc::experimental::Interceptor {
 public:
  CallTimer(const GatewayMetrics::AdapterCalls& calls, absl::string_view method)
      : calls_(calls), method_(method), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_STATUS)) {
      const grpc::Status* status = methods->GetRecvStatus();
      calls_.Observe(method_,
                     static_cast<absl::StatusCode>(status != nullptr ? status->error_code()
                                                                     : grpc::StatusCode::UNKNOWN),
                     absl::FromChrono(std::chrono::steady_clock::now() - start_));
    }
    methods->Proceed();
  }

 private:
  const GatewayMetrics::AdapterCalls& calls_;
  // The method's name: the part of "/ndx.v1.Adapter/Fetch" after the last '/'; gRPC keeps the
  // full name alive for the call.
  const absl::string_view method_;
  const std::chrono::steady_clock::time_point start_;
};

class CallTimerFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit CallTimerFactory(std::unique_ptr<GatewayMetrics::AdapterCalls> calls)
      : calls_(std::move(calls)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    absl::string_view method = info->method() != nullptr ? info->method() : "";
    method = method.substr(method.rfind('/') + 1);
    return new CallTimer(*calls_, method);
  }

 private:
  const std::unique_ptr<GatewayMetrics::AdapterCalls> calls_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface> MakeAdapterCallMetrics(
    GatewayMetrics& metrics, const std::string& owner) {
  return std::make_unique<CallTimerFactory>(metrics.ForAdapter(owner));
}

}  // namespace ndx::gateway
