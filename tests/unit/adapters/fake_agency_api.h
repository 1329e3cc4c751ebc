#ifndef NDX_TESTS_UNIT_ADAPTERS_FAKE_AGENCY_API_H_
#define NDX_TESTS_UNIT_ADAPTERS_FAKE_AGENCY_API_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "crypto/tls.h"

namespace httplib {
class SSLServer;
}

namespace ndx::adapters::testing {

// An agency's HTTP/JSON API for the REST backend tests: httplib's HTTPS server on 127.0.0.1, on
// a port the system picks, run in a thread from construction until Stop() or destruction.
//
// It follows the REST contract (src/adapters/rest_backend.h) under /people (pop.v1.Person) and
// /households (pop.v1.Household), and misbehaves under other paths, one way each:
//   /people/{id}        "001" (every field; camelCase and snake_case members; unknown members),
//                       "002" (enum as a number, null), "a/b c?&%" (a key to encode),
//                       "no-key" (the record leaves its key out), "wrong-key" (another key),
//                       "bad-type" (birth_year holds a string of words), p100..p124 (province
//                       DN, for paging); 404 for any other id
//   /people?...         the query form over those records: filters by the members' text,
//                       page_size, page_token (the last id of the page before)
//   /households/7       household 7, its int64 id as a JSON string
//   /tagged/{id}, /tagged?...  pop.v1.WithTags, whose tags are a JSON array: "t1" (four tags,
//                       one repeated, one empty), "t2" (an empty array), "t3" (no tags member)
//   /ignoring?...       a query form that ignores filters and page_size: 001, 002, p100, p101
//   /slow/...           answers only once ReleaseSlow() was called (or after 60 s)
//   /status/{code}/...  answers HTTP {code}
//   /garbage/...        200 with a body that is not JSON
//   /redirect/...       302 to another host
//   /big/...            200 with a 64 KiB record
//   /abort/...          200 promising 1 KiB, then the connection ends after a few bytes
// With `bearer_token`, a request without "Authorization: Bearer <token>" gets 401; with
// `client_ca_file`, the TLS handshake requires a client certificate chaining to it.
// Thread-safe.
class FakeAgencyApi {
 public:
  struct Options {
    // The server's certificate and key (ca_file is not used).
    crypto::TlsFilePaths server;
    std::string client_ca_file;
    std::string bearer_token;
  };

  explicit FakeAgencyApi(Options options);
  ~FakeAgencyApi();
  FakeAgencyApi(const FakeAgencyApi&) = delete;
  FakeAgencyApi& operator=(const FakeAgencyApi&) = delete;

  int port() const { return port_; }
  // "https://127.0.0.1:<port>" followed by `path`.
  std::string Url(const std::string& path) const;

  // Stops serving (open connections are closed) and joins the thread; idempotent.
  void Stop();
  // Stop(), then serves again on the same port, as an API restarted by its owner would.
  void Restart();
  // Lets the /slow handlers answer, so that Stop() need not wait for them; idempotent.
  void ReleaseSlow();

  // The request targets (path and query, as sent: percent-encoded) and the Authorization
  // headers received, in order.
  std::vector<std::string> targets() const;
  std::vector<std::string> authorizations() const;

 private:
  // Makes the server, installs the handlers and binds `port` (0: any free port).
  void Serve(int port);

  const Options options_;
  int port_ = 0;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  absl::Notification release_slow_;
  mutable absl::Mutex mutex_;
  std::vector<std::string> targets_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::string> authorizations_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace ndx::adapters::testing

#endif  // NDX_TESTS_UNIT_ADAPTERS_FAKE_AGENCY_API_H_
