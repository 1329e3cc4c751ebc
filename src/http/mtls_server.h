#ifndef NDX_HTTP_MTLS_SERVER_H_
#define NDX_HTTP_MTLS_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/revocation.h"
#include "crypto/spiffe_id.h"
#include "crypto/tls.h"

namespace ndx::http {

// One HTTPS request, its client identified.
struct Request {
  std::string method;
  std::string path;
  // The groups of the route's pattern that matched the path, in order.
  std::vector<std::string> path_groups;
  std::string body;
  // Header names are case-insensitive; empty when absent.
  std::function<std::string(absl::string_view name)> header;
  // The client's identity, from its verified certificate (and checked against the CRL in force).
  crypto::SpiffeId peer;
  // "ip:port" of the client, for logs.
  std::string remote_address;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A handler runs on one of the server's threads and may block it.
using Handler = std::function<Response(const Request&)>;

struct Route {
  // "GET" or "POST".
  std::string method;
  // An ECMAScript regular expression that must match the whole path; its groups become
  // Request::path_groups.
  std::string pattern;
  Handler handler;
};

struct ServerOptions {
  // "host:port"; port 0 picks a free port (see port()).
  std::string listen_address;
  crypto::TlsFilePaths tls;
  std::string trust_domain;
  // Not owned; must outlive the server.
  const crypto::RevocationWatcher* revocation = nullptr;
  // Requests handled at once; further connections wait in the kernel's accept queue.
  int threads = 8;
  // Larger request bodies are refused with 413 before they are read.
  size_t max_body_bytes = 1 << 20;
  // A connection that sends nothing for this long is closed.
  absl::Duration idle_timeout = absl::Seconds(30);
};

// An HTTPS server (HTTP/1.1 over TLS, keep-alive) whose every client is authenticated as on the
// gRPC port: the certificate chains to the platform CA, obeys the client leaf rules of the trust
// domain and is not revoked (crypto::ServerTlsContext). A request whose path no route matches is
// answered 404, a route's path with another method 405, in JSON. Thread-safe.
class MtlsServer {
 public:
  // Binds and starts serving on a thread of its own. kInvalidArgument for a bad address or
  // pattern, kUnavailable when the address cannot be bound, TLS file errors as
  // crypto::MakeServerCredentials.
  static absl::StatusOr<std::unique_ptr<MtlsServer>> Start(ServerOptions options,
                                                           std::vector<Route> routes);
  // Stops (see Stop).
  ~MtlsServer();
  MtlsServer(const MtlsServer&) = delete;
  MtlsServer& operator=(const MtlsServer&) = delete;

  // The port actually bound.
  int port() const;

  // Stops accepting, lets the requests being handled finish, and returns. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit MtlsServer(std::unique_ptr<Impl> impl);
  const std::unique_ptr<Impl> impl_;
};

// The JSON body of an error answer, as gRPC-JSON transcoders write it: {"code": <gRPC code
// number>, "message": "...", "details": []}.
std::string ErrorBody(int grpc_code, absl::string_view message);

}  // namespace ndx::http

#endif  // NDX_HTTP_MTLS_SERVER_H_
