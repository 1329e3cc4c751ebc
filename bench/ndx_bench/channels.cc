#include "ndx_bench/channels.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace ndx::bench {

absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> OpenChannels(
    const std::string& target, const grpc::ChannelArguments& args, const crypto::TlsFilePaths& tls,
    const std::optional<crypto::SpiffeId>& expected_server, int count) {
  NDX_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                       crypto::MakeChannelCredentials(tls, expected_server));
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments own = args;
    own.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    // Different arguments make different subchannels even in a shared pool.
    own.SetInt("ndx.bench.connection", i);
    channels.push_back(grpc::CreateCustomChannel(target, credentials, own));
  }
  return channels;
}

absl::Status WaitUntilConnected(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                                absl::Duration timeout, const BenchCallFactory& calls) {
  const auto deadline = std::chrono::system_clock::now() + absl::ToChronoMicroseconds(timeout);
  for (size_t i = 0; i < channels.size(); ++i) {
    if (channels[i]->WaitForConnected(deadline)) continue;
    // The channel's state says only "transient failure"; a call says why.
    grpc::Status probe = CallOnce(calls, channels[i], absl::Seconds(5));
    std::string reason =
        probe.ok()
            ? "it connected only after the timeout"
            : absl::StrCat(
                  absl::StatusCodeToString(static_cast<absl::StatusCode>(probe.error_code())), ": ",
                  probe.error_message());
    return absl::UnavailableError(absl::StrCat("connection ", i + 1, " of ", channels.size(),
                                               " not ready after ", absl::FormatDuration(timeout),
                                               ": ", reason));
  }
  return absl::OkStatus();
}

}  // namespace ndx::bench
