#ifndef NDX_BENCH_NDX_BENCH_CHANNELS_H_
#define NDX_BENCH_NDX_BENCH_CHANNELS_H_

#include <grpcpp/channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crypto/spiffe_id.h"
#include "crypto/tls.h"
#include "ndx_bench/bench_call.h"

namespace ndx::bench {

// `count` mTLS channels to `target` with `args` (cli::GatewayChannelArguments) presenting the
// identity in `tls`, each with a connection of its own to each address of the target: gRPC would
// otherwise share one subchannel (one TCP connection) between channels of the same target and
// arguments. When `expected_server` is set, the server's certificate must
// carry exactly that SPIFFE id. Errors are those of crypto::MakeChannelCredentials (unreadable
// files, a key readable by others, a certificate that does not match its key).
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> OpenChannels(
    const std::string& target, const grpc::ChannelArguments& args, const crypto::TlsFilePaths& tls,
    const std::optional<crypto::SpiffeId>& expected_server, int count);

// Connects every channel, waiting `timeout` at most in all. kUnavailable when one does not
// become ready, with the reason gRPC gives to one call made through it (connection refused,
// handshake failed, ...).
absl::Status WaitUntilConnected(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                                absl::Duration timeout, const BenchCallFactory& calls);

}  // namespace ndx::bench

#endif  // NDX_BENCH_NDX_BENCH_CHANNELS_H_
