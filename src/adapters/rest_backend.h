#ifndef NDX_ADAPTERS_REST_BACKEND_H_
#define NDX_ADAPTERS_REST_BACKEND_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "adapters/backend.h"
#include "adapters/connection_pool.h"

namespace ndx::adapters {

class RestConnection;
class RestDatasetMapping;

struct RestBackendOptions {
  // https://host[:port][/path]; the records are GET {base_url}/{key}.
  std::string base_url;
  // PEM CA certificate(s) the API's server certificate must chain to. Required: the system's
  // trust store is never used, so a public CA cannot vouch for an impostor of the agency's API.
  std::string ca_file;
  // Client certificate and key for mutual TLS, both or neither; the key must be 0600.
  std::string cert_file;
  std::string key_file;
  // A file holding the bearer token (0600); empty for none.
  std::string bearer_token_file;
  // Path of the query form, after base_url's path; empty for base_url itself.
  std::string search_path;
  // Connections at most; a call waits for a free one up to `wait`.
  int max_connections = 8;
  absl::Duration wait = absl::Seconds(2);
  // Longest wait for the API in one call; the call's deadline applies when it comes first.
  absl::Duration timeout = absl::Seconds(5);
  // Largest response body read (after decompression); a larger one is kResourceExhausted.
  size_t max_response_bytes = 32 << 20;

  bool operator==(const RestBackendOptions&) const = default;
};

// A Backend over an agency's existing HTTP/JSON API, over HTTPS only.
//
// The contract the API must follow (docs/configuration.md, REST, says the same for agencies):
//   Fetch   GET {base}/{key}; the key in its canonical text, percent-encoded as one path
//           segment. 200 with a JSON object, the record; 404 when there is none.
//   Search  GET {base}{search_path}?{field}={value}&...&page_size={n}[&page_token={t}]; one
//           parameter per filter, named after the field (its proto name), each value in its
//           canonical text; page_token absent on the first page. 200 with
//           {"records": [{...}, ...], "next_page_token": "..."}: at most n records, in key order,
//           each matching every filter exactly; next_page_token absent, null or "" on the last
//           page (nextPageToken is accepted too). 200 with no records when nothing matches.
//   Canonical text: integers in decimal, bool true/false, enums by name (the number when it has
//   none), bytes in standard padded base64, Timestamps in RFC 3339 UTC ("...Z"), doubles as the
//   shortest decimal that reads back the same, strings as they are.
//   Records: members named after fields (proto name or lowerCamelCase JSON name), values as
//   Protocol Buffers' JSON mapping reads them (int64 as number or string, Timestamp in RFC 3339,
//   bytes in base64, enum by name or number, a repeated field as a JSON array); null or absent
//   leaves a field unset; members that name no field are dropped. A repeated field cannot be
//   filtered (ParseFilter), so no query parameter ever names one. A fetched record may leave the
//   key out, but one that carries another key is refused. Other statuses: 400 INVALID_ARGUMENT;
//   401, 403 FAILED_PRECONDITION (the API refused the adapter's credentials, an owner's
//   configuration problem); 429 RESOURCE_EXHAUSTED; 5xx UNAVAILABLE; anything else (a redirect,
//   which is never followed, included) INTERNAL.
//
// Records that do not fit the schema (a string for an int32) are the owner's fault, not the
// caller's: kInternal naming the dataset, the field, its type and the JSON kind sent, never the
// value. A search result that does not match a filter is dropped (and logged, naming the field):
// the API ignored the parameter. Only the requested fields are mapped, so a broken member the
// caller did not ask for does not fail the call. Keys, filter values, records, URLs (which
// carry the key) and the token never appear in a message or a log line; messages name the
// dataset, fields, types, HTTP status codes and the API's origin (https://host:port).
//
// Time: each call ends by its deadline or `timeout`, whichever comes first: the connect, TLS,
// write and read timeouts are set to what is left, and the body stops being read at that time;
// a call that runs out is kDeadlineExceeded. A connection failure is kUnavailable.
//
// Connections: a ConnectionPool of keep-alive HTTPS clients, one per call at a time. A new
// connection costs a TCP and TLS handshake and loading the CA file, about 5 ms on loopback
// against 0.1 ms for a request on an open one: pooling is worth it. A pooled connection the API
// closed while idle fails on its next use; that request is sent once more on a new connection
// (a GET is idempotent). SIGPIPE is blocked in the calling thread while a request runs, since
// httplib's client writes without MSG_NOSIGNAL and the adapter keeps SIGPIPE's default action.
// Thread-safe.
class RestBackend final : public Backend {
 public:
  // Checks the options and the files (base_url https, the CA file holds a certificate, the
  // client certificate and key load, key and token files private) and reads the token. Does not
  // contact the API, which may be down while the adapter starts; the first call says so.
  static absl::StatusOr<std::unique_ptr<RestBackend>> Open(const RestBackendOptions& options);
  ~RestBackend() override;

  // Checks what can be checked without a table: the binding sets no table, every field is one
  // the JSON mapping reads into a supported field, and no field is named like a query parameter
  // of the contract (page_size, page_token).
  absl::Status CheckBinding(const Binding& binding) override;
  // "the REST API at https://host:port": a binding has no table here.
  std::string Source(const Binding& binding) const override {
    return absl::StrCat("the REST API at ", origin_);
  }
  absl::StatusOr<std::string> Fetch(const Binding& binding, absl::string_view key,
                                    const std::vector<std::string>& fields,
                                    absl::Time deadline) override;
  absl::StatusOr<SearchPage> Search(const Binding& binding, const std::vector<FieldFilter>& filters,
                                    const std::vector<std::string>& fields, int page_size,
                                    const std::string& page_token, absl::Time deadline) override;

  const RestBackendOptions& options() const { return options_; }
  // "https://host:port", for messages: never a path, which may carry a key.
  const std::string& origin() const { return origin_; }

 private:
  using Pool = ConnectionPool<RestConnection>;
  // An answer of the API: its HTTP status and body.
  struct Answer {
    int status = 0;
    std::string body;
  };

  // `open` makes a connection; the token and the paths of the credentials live in it.
  RestBackend(const RestBackendOptions& options, std::string origin, std::string base_path,
              Pool::Opener open);

  // The mapping CheckBinding made for `binding`'s dataset; kFailedPrecondition if it was not
  // checked.
  absl::StatusOr<std::shared_ptr<const RestDatasetMapping>> MappingOf(const Binding& binding) const;
  // GET `target` (path and query, encoded), within `deadline` and the configured timeout.
  absl::StatusOr<Answer> Get(const Binding& binding, const std::string& target,
                             absl::Time deadline);

  const RestBackendOptions options_;
  const std::string origin_;
  // base_url's path without a trailing '/'; "" for the root.
  const std::string base_path_;
  Pool pool_;
  mutable absl::Mutex mutex_;
  absl::flat_hash_map<std::string, std::shared_ptr<const RestDatasetMapping>> mappings_
      ABSL_GUARDED_BY(mutex_);
};

}  // namespace ndx::adapters

#endif  // NDX_ADAPTERS_REST_BACKEND_H_
