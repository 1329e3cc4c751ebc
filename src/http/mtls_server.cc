#include "http/mtls_server.h"

#include <httplib.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "crypto/tls_context.h"

namespace ndx::http {
namespace {

constexpr int kUnauthenticated = 16;
constexpr int kNotFound = 5;
constexpr int kUnimplemented = 12;
constexpr int kInvalidArgument = 3;

absl::StatusOr<std::pair<std::string, int>> SplitAddress(absl::string_view address) {
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", address, "\" is not host:port, e.g. 127.0.0.1:8443"));
  }
  std::string host(address.substr(0, colon));
  // "[::1]" names an IPv6 host; the socket call takes it bare.
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(std::move(host), port);
}

}  // namespace

std::string ErrorBody(int grpc_code, absl::string_view message) {
  nlohmann::json body = {
      {"code", grpc_code}, {"message", std::string(message)}, {"details", nlohmann::json::array()}};
  return body.dump();
}

struct MtlsServer::Impl {
  std::unique_ptr<crypto::ServerTlsContext> tls;
  std::unique_ptr<httplib::SSLServer> server;
  std::vector<std::regex> patterns;
  std::thread thread;
  std::atomic<bool> listen_returned{false};
  int port = 0;
  // Held through Stop, so that a second caller returns only once the server has stopped.
  std::mutex stop_mutex;
  bool stopped = false;
};

MtlsServer::MtlsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MtlsServer::~MtlsServer() { Stop(); }

int MtlsServer::port() const { return impl_->port; }

void MtlsServer::Stop() {
  std::lock_guard<std::mutex> lock(impl_->stop_mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

absl::StatusOr<std::unique_ptr<MtlsServer>> MtlsServer::Start(ServerOptions options,
                                                              std::vector<Route> routes) {
  NDX_ASSIGN_OR_RETURN(auto host_port, SplitAddress(options.listen_address));
  auto impl = std::make_unique<Impl>();
  NDX_ASSIGN_OR_RETURN(impl->tls, crypto::ServerTlsContext::Create(
                                      options.tls, options.trust_domain, options.revocation));
  const crypto::ServerTlsContext* tls = impl->tls.get();
  impl->server = std::make_unique<httplib::SSLServer>(
      [tls](SSL_CTX& context) { return tls->Configure(context); });
  if (!impl->server->is_valid()) {
    return absl::InternalError("cannot set up TLS for the HTTPS listener (see the log)");
  }
  httplib::SSLServer& server = *impl->server;
  const int threads = std::max(1, options.threads);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_payload_max_length(options.max_body_bytes);
  const time_t idle_seconds = std::max<time_t>(1, absl::ToInt64Seconds(options.idle_timeout));
  server.set_keep_alive_timeout(idle_seconds);
  server.set_read_timeout(idle_seconds);
  server.set_write_timeout(idle_seconds);

  for (const Route& route : routes) {
    try {
      impl->patterns.emplace_back(route.pattern);
    } catch (const std::regex_error& error) {
      return absl::InvalidArgumentError(
          absl::StrCat("route pattern \"", route.pattern, "\" is not a regular expression"));
    }
    if (route.method != "GET" && route.method != "POST") {
      return absl::InvalidArgumentError(
          absl::StrCat("route method \"", route.method, "\" is not GET or POST"));
    }
    Handler handler = route.handler;
    auto serve = [tls, handler](const httplib::Request& in, httplib::Response& out) {
      absl::StatusOr<crypto::SpiffeId> peer = in.ssl == nullptr
                                                  ? absl::UnauthenticatedError("no TLS session")
                                                  : tls->PeerIdentity(*in.ssl);
      if (!peer.ok()) {
        out.status = 401;
        out.set_content(ErrorBody(kUnauthenticated, peer.status().message()), "application/json");
        return;
      }
      Request request{
          .method = in.method,
          .path = in.path,
          .path_groups = {},
          .body = in.body,
          .header =
              [&in](absl::string_view name) { return in.get_header_value(std::string(name)); },
          .peer = *std::move(peer),
          .remote_address = absl::StrCat(in.remote_addr, ":", in.remote_port)};
      for (size_t i = 1; i < in.matches.size(); ++i) request.path_groups.push_back(in.matches[i]);
      Response response = handler(request);
      out.status = response.status;
      for (auto& [name, value] : response.headers) out.set_header(name, value);
      out.set_content(std::move(response.body), response.content_type);
    };
    if (route.method == "GET") {
      server.Get(route.pattern, std::move(serve));
    } else {
      server.Post(route.pattern, std::move(serve));
    }
  }
  // Answers httplib's own refusals (no route, wrong method, body too large, a malformed request)
  // in the same JSON as the handlers' errors.
  const std::vector<std::regex>* patterns = &impl->patterns;
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [patterns](const httplib::Request& in, httplib::Response& out) {
        if (!out.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        int code = kInvalidArgument;
        std::string message = absl::StrCat("HTTP status ", out.status);
        if (out.status == 404) {
          bool known_path = false;
          for (const std::regex& pattern : *patterns) {
            known_path = known_path || std::regex_match(in.path, pattern);
          }
          if (known_path) {
            out.status = 405;
            code = kUnimplemented;
            message = absl::StrCat("method ", in.method, " is not allowed on this path");
          } else {
            code = kNotFound;
            message = "no such path; the API's paths are listed in docs/";
          }
        } else if (out.status == 413) {
          message = "the request body is larger than the server accepts";
        }
        out.set_content(ErrorBody(code, message), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));

  auto& [host, port] = host_port;
  impl->port =
      port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (impl->port <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen_address,
                                               ": address unavailable or in use"));
  }
  Impl* started = impl.get();
  impl->thread = std::thread([started] {
    started->server->listen_after_bind();
    started->listen_returned = true;
  });
  // Stop() must find the server running, or stopping it would not end listen_after_bind.
  while (!server.is_running() && !impl->listen_returned) absl::SleepFor(absl::Milliseconds(1));
  return std::unique_ptr<MtlsServer>(new MtlsServer(std::move(impl)));
}

}  // namespace ndx::http
