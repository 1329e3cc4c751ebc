// ndx-minimal-adapter: the floor under an adapter's cost per call. It serves ndx.v1.Adapter/Fetch
// with the adapter's own mTLS credentials and server options (same API style, same settings,
// through the same functions), and answers every call with one fixed, pre-serialized record: no
// authorization, no backend, no record building, no logging. bench/adapter-bench.sh runs it
// beside ndx-adapter, so that what the adapter spends on top of it is its own work. With
// --delay_ms it stands for a slow agency instead (bench/overload-bench.sh): every answer leaves
// after that delay, and a waiting call holds a timer, not a thread, so thousands can wait at once.

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "adapters/adapter_config.h"
#include "adapters/adapter_server.h"
#include "common/logging.h"
#include "common/process.h"
#include "crypto/tls.h"
#include "ndx/v1/adapter.grpc.pb.h"

namespace ndx::bench {
namespace {

// A bench.v1.Record {string id = 1; string payload = 2;} of exactly `size` bytes on the wire,
// as bench/adapter-bench.sh stores it: id "r-1", the payload filled with 'x'.
std::string FixedRecord(int size) {
  const std::string id = "r-1";
  const int head = 2 + static_cast<int>(id.size());  // tag, length, id
  // The payload's length takes one varint byte below 128, two below 16384, and so on.
  for (int length_bytes = 1; length_bytes <= 5; ++length_bytes) {
    const int payload = size - head - 1 - length_bytes;
    if (payload < 0) break;
    int needed = 1;
    for (unsigned rest = static_cast<unsigned>(payload) >> 7; rest != 0; rest >>= 7) ++needed;
    if (needed != length_bytes) continue;
    std::string record;
    record.push_back(0x0a);
    record.push_back(static_cast<char>(id.size()));
    record += id;
    record.push_back(0x12);
    for (unsigned rest = static_cast<unsigned>(payload);; rest >>= 7) {
      if (rest < 0x80) {
        record.push_back(static_cast<char>(rest));
        break;
      }
      record.push_back(static_cast<char>((rest & 0x7f) | 0x80));
    }
    record.append(static_cast<size_t>(payload), 'x');
    return record;
  }
  return "";
}

// Answers one Fetch when its alarm fires. The callback API lets a reactor finish from any thread,
// so the call waits on gRPC's timer, not on a thread of its own. Deletes itself once gRPC is done
// with the call.
class DelayedAnswer final : public grpc::ServerUnaryReactor {
 public:
  explicit DelayedAnswer(std::chrono::milliseconds delay) {
    alarm_.Set(std::chrono::system_clock::now() + delay, [this](bool fired) {
      // A cancelled alarm (the caller went away) finishes the call at once.
      Finish(fired ? grpc::Status::OK : grpc::Status::CANCELLED);
    });
  }

  void OnCancel() override { alarm_.Cancel(); }
  void OnDone() override { delete this; }

 private:
  grpc::Alarm alarm_;
};

// Fetch answers the fixed record, whoever asks and whatever for: at once on the gRPC thread that
// received the call, as the adapter answers a SQLite read, or after `delay`.
// Thread-safe: immutable.
class MinimalAdapterService final : public v1::Adapter::CallbackService {
 public:
  MinimalAdapterService(std::string record, std::chrono::milliseconds delay)
      : record_(std::move(record)), delay_(delay) {}

  grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* context,
                                  const v1::FetchRequest* request,
                                  v1::FetchResponse* response) override {
    response->set_record(record_);
    if (delay_ > std::chrono::milliseconds::zero()) return new DelayedAnswer(delay_);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const std::string record_;
  const std::chrono::milliseconds delay_;
};

}  // namespace
}  // namespace ndx::bench

namespace {

// Exit codes: 1 when the server cannot run, 2 for a bad command line or credentials.
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

}  // namespace

int main(int argc, char** argv) {
  ndx::InitProcess("ndx-minimal-adapter");

  CLI::App app{
      "ndx-minimal-adapter: ndx.v1.Adapter/Fetch answering one fixed record, with the adapter's "
      "credentials and server options (the baseline of bench/adapter-bench.sh)"};
  std::string listen = "127.0.0.1:0";
  std::string trust_domain;
  ndx::crypto::TlsFilePaths tls;
  int record_bytes = 1024;
  int max_message_bytes = ndx::adapters::kDefaultMaxMessageBytes;
  int delay_ms = 0;
  std::string port_file;
  app.add_option("--listen", listen, "host:port (default 127.0.0.1:0, a free port)");
  app.add_option("--trust_domain", trust_domain, "the platform's trust domain")->required();
  app.add_option("--ca", tls.ca_file, "CA certificate (PEM)")->required();
  app.add_option("--cert", tls.cert_file, "our certificate (PEM), a node's as an adapter's")
      ->required();
  app.add_option("--key", tls.key_file, "our private key (PEM, mode 0600)")->required();
  app.add_option("--record_bytes", record_bytes,
                 "size of the record every Fetch answers (default 1024)")
      ->check(CLI::Range(8, 1 << 20));
  app.add_option("--delay_ms", delay_ms,
                 "answer every Fetch this many milliseconds after it arrives, as a slow agency "
                 "would (default 0: at once)")
      ->check(CLI::Range(0, 600000));
  app.add_option("--max_message_bytes", max_message_bytes,
                 "as the adapter's AdapterConfig.max_message_bytes (default 4 MiB)");
  app.add_option("--port_file", port_file,
                 "once listening, write the bound port and a newline to this file");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  ndx::SetLogFormat(ndx::LogFormat::kText);
  spdlog::set_level(spdlog::level::info);
  ndx::StopSignals stop_signals;

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ndx::crypto::MakeServerCredentials(tls, trust_domain);
  if (!credentials.ok()) {
    std::fprintf(stderr, "ndx-minimal-adapter: %s\n",
                 std::string(credentials.status().message()).c_str());
    return kExitUsage;
  }
  ndx::bench::MinimalAdapterService service(ndx::bench::FixedRecord(record_bytes),
                                            std::chrono::milliseconds(delay_ms));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, *credentials, &port);
  builder.RegisterService(&service);
  ndx::adapters::ApplyAdapterServerOptions(max_message_bytes, &builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "ndx-minimal-adapter: cannot listen on %s\n", listen.c_str());
    return kExitFailure;
  }
  if (!port_file.empty()) {
    absl::Status written = ndx::WritePortFile(port_file, port);
    if (!written.ok()) {
      std::fprintf(stderr, "ndx-minimal-adapter: --port_file: %s\n",
                   std::string(written.message()).c_str());
      return kExitFailure;
    }
  }
  spdlog::info("ndx-minimal-adapter listening on port {}, {}-byte record, answered after {} ms",
               port, record_bytes, delay_ms);
  stop_signals.Wait();
  server->Shutdown(std::chrono::system_clock::now());
  server->Wait();
  return 0;
}
