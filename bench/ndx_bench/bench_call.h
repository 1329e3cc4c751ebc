#ifndef NDX_BENCH_NDX_BENCH_BENCH_CALL_H_
#define NDX_BENCH_NDX_BENCH_BENCH_CALL_H_

#include <grpcpp/channel.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace ndx::bench {

// The unary call that one slot of the load generator repeats, made on a CompletionQueue so that
// one thread can keep many of them in flight. Not thread-safe: one slot, one call at a time.
class BenchCall {
 public:
  virtual ~BenchCall() = default;

  // Starts the next call; its completion is posted to `queue` with `tag`, after which status() and
  // response_bytes() describe it.
  // REQUIRES: the previous call of this object has completed.
  virtual void Start(grpc::CompletionQueue* queue, std::chrono::system_clock::time_point deadline,
                     void* tag) = 0;
  virtual const grpc::Status& status() const = 0;
  // The serialized size of the last call's response message (0 after a failure).
  virtual size_t response_bytes() const = 0;
};

// Makes the call of one slot on `channel`. Called once per slot before the run starts.
using BenchCallFactory =
    std::function<std::unique_ptr<BenchCall>(const std::shared_ptr<grpc::Channel>& channel)>;

// What every call reads.
struct ReadTarget {
  std::string dataset;
  std::string key;
  std::string purpose;
  // Exchange: the fields asked of the gateway (empty: every granted field). Adapter: the fields the
  // gateway would forward, i.e. what its decision allows (empty: every field of the record).
  std::vector<std::string> fields;
  // Adapter only: the consumer node the RequestContext names, as the gateway fills it.
  std::string caller;
};

// ndx.v1.Exchange/Get of `target`, as a consumer calls the gateway.
BenchCallFactory ExchangeGetCalls(const ReadTarget& target);

// ndx.v1.Adapter/Fetch of `target`, as the gateway calls an adapter: the RequestContext holds the
// caller, the purpose and a fresh request id per call.
BenchCallFactory AdapterFetchCalls(const ReadTarget& target);

// Makes one call and waits for it: how start-up learns why a channel does not connect (the
// status message names the refused connection or the failed handshake).
grpc::Status CallOnce(const BenchCallFactory& calls, const std::shared_ptr<grpc::Channel>& channel,
                      absl::Duration timeout);

}  // namespace ndx::bench

#endif  // NDX_BENCH_NDX_BENCH_BENCH_CALL_H_
