#ifndef NDX_TESTS_INTEGRATION_FAKE_ADAPTER_H_
#define NDX_TESTS_INTEGRATION_FAKE_ADAPTER_H_

#include <grpcpp/server.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "crypto/tls.h"
#include "ndx/v1/adapter.grpc.pb.h"

namespace ndx::testing {

// An in-process adapter that misbehaves on purpose: it answers Fetch with whatever `reply`
// returns (extra fields, huge records) after an optional delay, with the owner's mTLS identity,
// or presents a certificate its clients must refuse. Thread-safe.
class FakeAdapter final : public v1::Adapter::Service {
 public:
  using Reply = std::function<grpc::Status(const v1::FetchRequest&, v1::FetchResponse*)>;
  // kChecked: ndx's server credentials, which refuse to present a certificate breaking the leaf
  // rules and enforce them on clients. kAsIs: plain gRPC TLS presenting `owner_tls` whatever it
  // holds (client chains still verified against its CA), to test the gateway refusing it.
  enum class Presenting { kChecked, kAsIs };

  FakeAdapter(const crypto::TlsFilePaths& owner_tls, Reply reply,
              Presenting presenting = Presenting::kChecked);
  ~FakeAdapter() override;

  std::string endpoint() const;
  void set_delay(absl::Duration delay) { delay_ms_ = absl::ToInt64Milliseconds(delay); }
  int fetch_count() const { return fetch_count_; }
  // From now on, a Fetch for which `hang` is true waits until ReleaseHanging() or until it is
  // cancelled, as a stuck database would. Set before the calls arrive.
  void HangWhen(std::function<bool(const v1::FetchRequest&)> hang) { hang_ = std::move(hang); }
  // Lets the waiting calls answer, and the later ones not wait.
  void ReleaseHanging() { released_ = true; }
  // Calls waiting now.
  int hanging() const { return hanging_; }

  grpc::Status Fetch(grpc::ServerContext* context, const v1::FetchRequest* request,
                     v1::FetchResponse* response) override;

 private:
  Reply reply_;
  std::atomic<int64_t> delay_ms_{0};
  std::atomic<int> fetch_count_{0};
  std::function<bool(const v1::FetchRequest&)> hang_;
  std::atomic<bool> released_{false};
  std::atomic<int> hanging_{0};
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace ndx::testing

#endif  // NDX_TESTS_INTEGRATION_FAKE_ADAPTER_H_
