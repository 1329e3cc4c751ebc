#include "adapters/rest_backend.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver.h>
#include <google/protobuf/util/type_resolver_util.h>
#include <httplib.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "adapters/page_token.h"
#include "common/field_text.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/pki.h"

namespace ndx::adapters {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using Json = nlohmann::json;

constexpr char kTypeUrlPrefix[] = "type.googleapis.com";

// Records are flat (a record object, then a Timestamp's text at most), and a search answer adds
// two levels: anything nested deeper is refused before it is walked.
constexpr int kMaxJsonDepth = 16;

// The query parameters of the contract besides the filters.
constexpr char kPageSizeParameter[] = "page_size";
constexpr char kPageTokenParameter[] = "page_token";

// The parts of a base_url that the client needs.
struct BaseUrl {
  std::string host;
  int port = 443;
  // Without a trailing '/'; "" for the root.
  std::string path;
  bool ipv6 = false;
};

bool IsUnreserved(char c) {
  return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// Characters a path may hold as they are (RFC 3986 pchar and '/'); '%' must start an escape.
bool IsPathText(absl::string_view path) {
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size() || !absl::ascii_isxdigit(path[i + 1]) ||
          !absl::ascii_isxdigit(path[i + 2])) {
        return false;
      }
      continue;
    }
    if (!IsUnreserved(c) &&
        absl::string_view("!$&'()*+,;=:@/").find(c) == absl::string_view::npos) {
      return false;
    }
  }
  return true;
}

absl::Status BadBaseUrl(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("rest.base_url ", why));
}

absl::StatusOr<BaseUrl> ParseBaseUrl(absl::string_view url) {
  if (url.empty()) {
    return BadBaseUrl(
        "is empty; give the API's https:// address, e.g. "
        "\"https://api.mops.internal/population/v2/residents\"");
  }
  if (absl::StartsWithIgnoreCase(url, "http://")) {
    return BadBaseUrl(
        "is http://: ndx has no plaintext mode. Keys and records are citizens' personal data and "
        "the bearer token a credential; give the API's https:// address");
  }
  if (!absl::StartsWithIgnoreCase(url, "https://")) {
    return BadBaseUrl("must start with https:// (the only scheme the adapter speaks to an API)");
  }
  absl::string_view rest = url.substr(8);
  if (rest.find_first_of("?#") != absl::string_view::npos) {
    return BadBaseUrl(
        "has a query or a fragment; give only https://host[:port][/path] (the adapter adds the "
        "key to the path and builds the query itself)");
  }
  const size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  absl::string_view path = slash == absl::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != absl::string_view::npos) {
    return BadBaseUrl(
        "holds a user name or password (user@host); put a token in rest.bearer_token_file "
        "instead, which is kept out of the configuration");
  }
  BaseUrl parsed;
  absl::string_view port;
  if (absl::ConsumePrefix(&authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return BadBaseUrl("has an IPv6 address without ']'");
    parsed.host = std::string(authority.substr(0, close));
    parsed.ipv6 = true;
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty() && !absl::ConsumePrefix(&after, ":")) {
      return BadBaseUrl("has text between the IPv6 address and the port");
    }
    port = after;
    for (char c : parsed.host) {
      if (!absl::ascii_isxdigit(c) && c != ':' && c != '.') {
        return BadBaseUrl("has an IPv6 address that is not one");
      }
    }
  } else {
    const size_t colon = authority.rfind(':');
    parsed.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) port = authority.substr(colon + 1);
    for (char c : parsed.host) {
      if (!absl::ascii_isalnum(c) && c != '-' && c != '.') {
        return BadBaseUrl("has a host that is not a DNS name or an IPv4 address");
      }
    }
  }
  if (parsed.host.empty()) return BadBaseUrl("has no host");
  if (!port.empty() || authority.back() == ':') {
    if (!absl::SimpleAtoi(port, &parsed.port) || parsed.port < 1 || parsed.port > 65535) {
      return BadBaseUrl("has a port that is not a number from 1 to 65535");
    }
  }
  if (!IsPathText(path)) {
    return BadBaseUrl(
        "has a path with characters that must be percent-encoded (spaces, quotes, non-ASCII...)");
  }
  parsed.path = std::string(path);
  while (absl::EndsWith(parsed.path, "/")) parsed.path.pop_back();
  return parsed;
}

// Percent-encodes all but RFC 3986's unreserved characters, so that any text is one path
// segment or one query value ('/', '?', '&', '=', '#', '%' and '+' included).
std::string PercentEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (IsUnreserved(static_cast<char>(c))) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

// The canonical text of a key or filter value, as the contract sends it: the same value spelled
// one way, whatever spelling the caller used ("1" or "true", "MALE" or "1", an offset or UTC).
std::string CanonicalText(const FieldValue& value) {
  struct Visitor {
    std::string operator()(int64_t v) const { return absl::StrCat(v); }
    std::string operator()(uint64_t v) const { return absl::StrCat(v); }
    std::string operator()(double v) const {
      if (std::isnan(v)) return "NaN";
      if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
      char buffer[32];
      const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), v);
      return std::string(buffer, result.ptr);
    }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(const std::string& v) const { return v; }
    std::string operator()(const BytesValue& v) const { return absl::Base64Escape(v.bytes); }
    std::string operator()(const EnumValue& v) const {
      return v.name.empty() ? absl::StrCat(v.number) : v.name;
    }
    std::string operator()(absl::Time v) const {
      return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", v, absl::UTCTimeZone());
    }
  };
  return std::visit(Visitor{}, value);
}

// Whether `message`'s `field` holds `value` (a FieldValue of that field's type, from ParseKey or
// ParseFilter). A field with presence that is unset matches nothing, as a NULL column would not;
// one without presence holds its default when the JSON left it out.
// REQUIRES: `field` is singular (a key is; ParseFilter refuses a repeated field).
bool FieldMatches(const Message& message, const FieldDescriptor& field, const FieldValue& value) {
  const Reflection& reflection = *message.GetReflection();
  if (field.has_presence() && !reflection.HasField(message, &field)) return false;
  const auto* i = std::get_if<int64_t>(&value);
  const auto* u = std::get_if<uint64_t>(&value);
  const auto* d = std::get_if<double>(&value);
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return i != nullptr && *i == reflection.GetInt32(message, &field);
    case FieldDescriptor::CPPTYPE_INT64:
      return i != nullptr && *i == reflection.GetInt64(message, &field);
    case FieldDescriptor::CPPTYPE_UINT32:
      return u != nullptr && *u == reflection.GetUInt32(message, &field);
    case FieldDescriptor::CPPTYPE_UINT64:
      return u != nullptr && *u == reflection.GetUInt64(message, &field);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return d != nullptr && *d == reflection.GetDouble(message, &field);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return d != nullptr && static_cast<float>(*d) == reflection.GetFloat(message, &field);
    case FieldDescriptor::CPPTYPE_BOOL: {
      const auto* b = std::get_if<bool>(&value);
      return b != nullptr && *b == reflection.GetBool(message, &field);
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* e = std::get_if<EnumValue>(&value);
      return e != nullptr && e->number == reflection.GetEnumValue(message, &field);
    }
    case FieldDescriptor::CPPTYPE_STRING:
      if (field.type() == FieldDescriptor::TYPE_BYTES) {
        const auto* bytes = std::get_if<BytesValue>(&value);
        return bytes != nullptr && bytes->bytes == reflection.GetString(message, &field);
      } else {
        const auto* text = std::get_if<std::string>(&value);
        return text != nullptr && *text == reflection.GetString(message, &field);
      }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      // google.protobuf.Timestamp, the only message type CheckSupportedField lets through.
      const auto* time = std::get_if<absl::Time>(&value);
      if (time == nullptr) return false;
      const Message& timestamp = reflection.GetMessage(message, &field);
      const Descriptor& type = *timestamp.GetDescriptor();
      const Reflection& timestamp_reflection = *timestamp.GetReflection();
      const FieldDescriptor* seconds = type.FindFieldByName("seconds");
      const FieldDescriptor* nanos = type.FindFieldByName("nanos");
      if (seconds == nullptr || nanos == nullptr) return false;
      return *time == absl::FromUnixSeconds(timestamp_reflection.GetInt64(timestamp, seconds)) +
                          absl::Nanoseconds(timestamp_reflection.GetInt32(timestamp, nanos));
    }
  }
  return false;
}

// Sets a key field (string, bytes or integer, CheckKeyField) to `value`, of its type.
void SetKeyField(const FieldDescriptor& field, const FieldValue& value, Message* message) {
  const Reflection& reflection = *message->GetReflection();
  if (const auto* i = std::get_if<int64_t>(&value)) {
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_INT32) {
      reflection.SetInt32(message, &field, static_cast<int32_t>(*i));
    } else {
      reflection.SetInt64(message, &field, *i);
    }
  } else if (const auto* u = std::get_if<uint64_t>(&value)) {
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
      reflection.SetUInt32(message, &field, static_cast<uint32_t>(*u));
    } else {
      reflection.SetUInt64(message, &field, *u);
    }
  } else if (const auto* text = std::get_if<std::string>(&value)) {
    reflection.SetString(message, &field, *text);
  } else if (const auto* bytes = std::get_if<BytesValue>(&value)) {
    reflection.SetString(message, &field, bytes->bytes);
  }
}

// What a JSON value is, for messages: its kind, never its content.
absl::string_view JsonKind(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "object";
    case Json::value_t::array:
      return "array";
    case Json::value_t::string:
      return "string";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "number";
    default:
      return "value";
  }
}

// A field's type as the JSON mapping reads it (a repeated field's element type), for messages.
std::string JsonElementTypeOf(const FieldDescriptor& field) {
  if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    return absl::StrCat(field.message_type()->full_name(), " (RFC 3339 text)");
  }
  if (field.cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
    return absl::StrCat("enum ", field.enum_type()->full_name(), " (a value name or number)");
  }
  if (field.type() == FieldDescriptor::TYPE_BYTES) return "bytes (base64 text)";
  return field.type_name();
}

std::string JsonTypeOf(const FieldDescriptor& field) {
  if (field.is_repeated()) return absl::StrCat("a JSON array of ", JsonElementTypeOf(field));
  return JsonElementTypeOf(field);
}

// The field a JSON member names: by its proto name or its JSON (lowerCamelCase) name, as
// Protocol Buffers' JSON mapping reads them; nullptr for a member that names no field.
const FieldBinding* FieldOfMember(const Binding& binding, absl::string_view member) {
  for (const FieldBinding& field : binding.fields) {
    if (field.field->name() == member || field.field->json_name() == member) return &field;
  }
  return nullptr;
}

}  // namespace

// What a checked binding needs at each call: a JSON type resolver over its schema. Immutable;
// thread-safe.
class RestDatasetMapping {
 public:
  // Keeps the descriptor pool that `resolver` reads alive.
  std::shared_ptr<const Schema> schema;
  // Thread-safe, as TypeResolver implementations must be.
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver;
  std::string type_url;

  // Maps `object` onto `message` (cleared first) with the JSON mapping; false when a member's
  // value does not fit its field. The mapping's own message is not kept: it quotes the value.
  bool Map(const Json& object, Message* message) const {
    // The text was parsed as JSON, so its strings are valid UTF-8 and dump() has nothing to
    // replace; the handler only keeps dump() from throwing.
    const std::string text = object.dump(-1, ' ', false, Json::error_handler_t::replace);
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    std::string binary;
    if (!google::protobuf::util::JsonToBinaryString(resolver.get(), type_url, text, &binary,
                                                    options)
             .ok()) {
      return false;
    }
    message->Clear();
    return message->ParsePartialFromString(binary);
  }
};

namespace {

// The JSON of an answer's body; kInternal when it is not JSON or nested past kMaxJsonDepth.
absl::StatusOr<Json> ParseJson(const Binding& binding, const std::string& body,
                               absl::string_view origin) {
  bool too_deep = false;
  Json json;
  try {
    json = Json::parse(
        body,
        [&too_deep](int depth, Json::parse_event_t, Json&) {
          if (depth > kMaxJsonDepth) too_deep = true;
          return !too_deep;
        },
        /*allow_exceptions=*/false);
  } catch (const std::exception&) {
    // allow_exceptions is false; this only keeps a third-party exception from escaping.
    json = Json(Json::value_t::discarded);
  }
  if (too_deep) {
    return absl::InternalError(absl::StrCat("dataset ", binding.dataset, ": the agency's API at ",
                                            origin, " sent JSON nested deeper than ", kMaxJsonDepth,
                                            " levels"));
  }
  if (json.is_discarded()) {
    return absl::InternalError(absl::StrCat("dataset ", binding.dataset, ": the agency's API at ",
                                            origin, " sent a body that is not JSON"));
  }
  return json;
}

// The message of one record: only the members naming a field of `needed` are mapped, so that
// a broken member the call does not need does not fail it. kInternal naming the field, its type
// and the JSON kind sent when a value does not fit (never the value).
absl::StatusOr<std::unique_ptr<Message>> MapRecord(const Binding& binding,
                                                   const RestDatasetMapping& mapping,
                                                   const Json& record,
                                                   const std::vector<const FieldBinding*>& needed,
                                                   absl::string_view origin) {
  if (!record.is_object()) {
    return absl::InternalError(absl::StrCat("dataset ", binding.dataset, ": the agency's API at ",
                                            origin, " sent a JSON ", JsonKind(record),
                                            " where a record (a JSON object) belongs"));
  }
  Json kept = Json::object();
  for (const auto& member : record.items()) {
    const FieldBinding* field = FieldOfMember(binding, member.key());
    if (field == nullptr || std::find(needed.begin(), needed.end(), field) == needed.end()) {
      continue;
    }
    kept[member.key()] = member.value();
  }
  std::unique_ptr<Message> message = binding.schema->NewMessage(binding.message);
  if (mapping.Map(kept, message.get())) return message;
  // The mapping failed: find the member at fault by mapping each alone (the slow path of a
  // broken record only).
  for (const auto& member : kept.items()) {
    Json alone = Json::object();
    alone[member.key()] = member.value();
    if (!mapping.Map(alone, message.get())) {
      const FieldDescriptor& field = *FieldOfMember(binding, member.key())->field;
      return absl::InternalError(
          absl::StrCat("dataset ", binding.dataset, ": the agency's API at ", origin,
                       " sent field \"", field.name(), "\" as a JSON ", JsonKind(member.value()),
                       " that does not map to its type, ", JsonTypeOf(field),
                       "; the API must send the dataset's schema (docs/configuration.md, REST)"));
    }
  }
  return absl::InternalError(absl::StrCat("dataset ", binding.dataset, ": the agency's API at ",
                                          origin, " sent a record that does not map to ",
                                          binding.message->full_name()));
}

// Clears the fields of `message` that were mapped for a check but not requested.
void KeepOnly(const std::vector<const FieldBinding*>& selected, Message* message) {
  const Reflection& reflection = *message->GetReflection();
  const Descriptor& type = *message->GetDescriptor();
  for (int i = 0; i < type.field_count(); ++i) {
    const FieldDescriptor* field = type.field(i);
    const bool wanted = std::any_of(selected.begin(), selected.end(),
                                    [field](const FieldBinding* b) { return b->field == field; });
    if (!wanted) reflection.ClearField(message, field);
  }
}

absl::StatusOr<std::string> Serialize(const Binding& binding, const Message& message) {
  std::string record;
  // Partial: a proto2 schema's required fields may legitimately be absent, as NULL columns are.
  if (!message.SerializePartialToString(&record)) {
    return absl::InternalError(
        absl::StrCat("dataset ", binding.dataset, ": cannot serialize a record"));
  }
  return record;
}

// The status of an answer other than 200 (and, for a fetch, 404): the code says whose problem
// it is, the message names the HTTP status and never the URL.
absl::Status HttpStatusError(const Binding& binding, absl::string_view origin, int status,
                             absl::string_view operation) {
  const std::string what = absl::StrCat("dataset ", binding.dataset, ": the agency's API at ",
                                        origin, " answered the ", operation, " with HTTP ", status);
  if (status == 400) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " (bad request): it refused the key or a filter"));
  }
  if (status == 401 || status == 403) {
    return absl::FailedPreconditionError(absl::StrCat(
        what,
        ": the agency's API refused the adapter's credentials; check rest.bearer_token_file and "
        "rest.cert_file"));
  }
  if (status == 429) {
    return absl::ResourceExhaustedError(absl::StrCat(what, " (too many requests)"));
  }
  if (status >= 500 && status <= 599) return absl::UnavailableError(what);
  if (status == 404) {
    // A fetch's 404 is "no such record"; a query's means there is no query form there.
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": there is no query endpoint there; check rest.search_path"));
  }
  if (status >= 300 && status <= 399) {
    return absl::InternalError(
        absl::StrCat(what,
                     " (a redirect, which the adapter does not follow: set rest.base_url to "
                     "where the API is)"));
  }
  return absl::InternalError(absl::StrCat(what, ", which the REST contract does not define"));
}

}  // namespace

namespace {

// Keeps a SIGPIPE raised by this thread from ending the adapter, whose disposition of SIGPIPE is
// the default one (terminate). httplib's client, and OpenSSL under it, write without
// MSG_NOSIGNAL, so a write to a connection the API reset (a load balancer dropping an idle
// connection, or the TLS close_notify after a failed read) raises it. SIGPIPE is blocked in this
// thread for the guard's life, and one it raised is taken off before unblocking; the process's
// disposition, which other code may rely on, is left alone. A SIGPIPE pending before the guard
// is someone else's and is left pending.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&sigpipe_);
    sigaddset(&sigpipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    was_pending_ = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &sigpipe_, &previous_);
  }
  ~ScopedSigpipeBlock() {
    if (!was_pending_) {
      const timespec now = {0, 0};
      while (sigtimedwait(&sigpipe_, nullptr, &now) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t sigpipe_;
  sigset_t previous_;
  bool was_pending_ = false;
};

}  // namespace

// One keep-alive HTTPS client of the API. Used by one call at a time; not thread-safe.
class RestConnection {
 public:
  struct Settings {
    std::string host;
    int port = 443;
    std::string ca_file;
    std::string cert_file;
    std::string key_file;
    // Empty for none. Held here and in the clients only; never logged.
    std::string token;
  };

  static absl::StatusOr<std::unique_ptr<RestConnection>> Open(const Settings& settings) {
    std::unique_ptr<httplib::SSLClient> client;
    if (settings.cert_file.empty()) {
      client = std::make_unique<httplib::SSLClient>(settings.host, settings.port);
    } else {
      client = std::make_unique<httplib::SSLClient>(settings.host, settings.port,
                                                    settings.cert_file, settings.key_file);
    }
    if (!client->is_valid()) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot load rest.cert_file ", settings.cert_file, " and rest.key_file ",
                       settings.key_file, " (PEM certificate and its private key)"));
    }
    // Only this CA: without a CA path, httplib would trust the system's store instead.
    client->set_ca_cert_path(settings.ca_file);
    client->enable_server_certificate_verification(true);
    client->set_keep_alive(true);
    // Without it, Nagle's algorithm and delayed ACKs add 40 ms to a request on an open connection.
    client->set_tcp_nodelay(true);
    // Paths and queries are percent-encoded here, completely; httplib's encoding is partial.
    client->set_url_encode(false);
    // A redirect could take the key to another host: it is answered as an error instead.
    client->set_follow_location(false);
    if (!settings.token.empty()) client->set_bearer_token_auth(settings.token);
    client->set_default_headers({{"Accept", "application/json"}, {"User-Agent", "ndx-adapter"}});
    return std::unique_ptr<RestConnection>(new RestConnection(std::move(client)));
  }

  struct Outcome {
    httplib::Error error = httplib::Error::Success;
    int status = 0;
    std::string body;
    // The connection had a socket open from an earlier request when this one started.
    bool reused = false;
    // The body stopped being read: past `until`, or larger than allowed.
    bool late = false;
    bool too_large = false;
  };

  // GET `target`, every timeout set to what is left until `until`.
  Outcome Get(const std::string& target, absl::Time until, size_t max_body) {
    const ScopedSigpipeBlock no_sigpipe;
    Outcome outcome;
    outcome.reused = client_->is_socket_open() != 0;
    // Whole milliseconds rounded up, plus one: httplib waits in milliseconds, and a wait cut
    // short of `until` would end as a failure of the API instead of the deadline it is.
    const auto left = std::chrono::milliseconds(
        std::max<int64_t>(
            0, absl::ToInt64Milliseconds(absl::Ceil(until - absl::Now(), absl::Milliseconds(1)))) +
        1);
    client_->set_connection_timeout(left);
    client_->set_read_timeout(left);
    client_->set_write_timeout(left);
    httplib::Result result = client_->Get(
        target, httplib::Headers(), [](const httplib::Response&) { return true; },
        [&outcome, until, max_body](const char* data, size_t length) {
          if (absl::Now() >= until) {
            outcome.late = true;
            return false;
          }
          if (outcome.body.size() + length > max_body) {
            outcome.too_large = true;
            return false;
          }
          outcome.body.append(data, length);
          return true;
        });
    outcome.error = result.error();
    if (result) outcome.status = result->status;
    return outcome;
  }

 private:
  explicit RestConnection(std::unique_ptr<httplib::SSLClient> client)
      : client_(std::move(client)) {}

  std::unique_ptr<httplib::SSLClient> client_;
};

namespace {

// What went wrong on the way, in words (httplib's names are its own).
absl::string_view DescribeError(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "cannot connect";
    case httplib::Error::SSLConnection:
      return "the TLS handshake failed (does the API want a client certificate?)";
    case httplib::Error::Read:
      return "the connection failed while reading the answer";
    case httplib::Error::Write:
      return "the connection failed while sending the request";
    case httplib::Error::Compression:
      return "the answer's compressed body is corrupt";
    default:
      return "the request failed";
  }
}

// The token in a bearer token file: one line of visible ASCII, which is what a header can carry
// (RFC 6750's token68 is a subset); a trailing newline is ignored.
absl::StatusOr<std::string> ReadToken(const std::string& path) {
  NDX_ASSIGN_OR_RETURN(std::string text, ReadPrivateFile(path));
  std::string token(absl::StripAsciiWhitespace(text));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("rest.bearer_token_file ", path, " is empty"));
  }
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      // Never the token, nor where in it: it is a credential.
      return absl::InvalidArgumentError(
          absl::StrCat("rest.bearer_token_file ", path,
                       " holds more than one line of visible ASCII; a token is a single line "
                       "without spaces"));
    }
  }
  return token;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RestBackend>> RestBackend::Open(const RestBackendOptions& options) {
  NDX_ASSIGN_OR_RETURN(BaseUrl url, ParseBaseUrl(options.base_url));
  if (options.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "rest.ca_file is empty; give the PEM certificate of the CA that signed the API's server "
        "certificate (the system's trust store is not used)");
  }
  absl::StatusOr<std::string> ca_pem = ReadFile(options.ca_file);
  if (!ca_pem.ok()) {
    return absl::Status(ca_pem.status().code(),
                        absl::StrCat("rest.ca_file: ", ca_pem.status().message()));
  }
  if (!crypto::InspectCertificate(*ca_pem).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rest.ca_file ", options.ca_file, " holds no PEM certificate"));
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "rest.cert_file and rest.key_file go together: give both for mutual TLS, or neither");
  }
  if (!options.key_file.empty()) NDX_RETURN_IF_ERROR(CheckPrivateFile(options.key_file));
  std::string token;
  if (!options.bearer_token_file.empty()) {
    NDX_ASSIGN_OR_RETURN(token, ReadToken(options.bearer_token_file));
  }
  if (!options.search_path.empty() &&
      (options.search_path[0] != '/' || !IsPathText(options.search_path))) {
    return absl::InvalidArgumentError(
        "rest.search_path must start with '/' and hold only URL path characters (others "
        "percent-encoded), e.g. \"/search\"");
  }
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("rest max_connections is ", options.max_connections, "; give 1 or more"));
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("rest timeout must be positive");
  }
  const std::string origin =
      absl::StrCat("https://", url.ipv6 ? "[" : "", url.host, url.ipv6 ? "]" : "", ":", url.port);
  RestConnection::Settings settings{.host = url.host,
                                    .port = url.port,
                                    .ca_file = options.ca_file,
                                    .cert_file = options.cert_file,
                                    .key_file = options.key_file,
                                    .token = std::move(token)};
  // One connection object now (no request yet), so that a certificate or key that does not load
  // stops the adapter at start rather than failing every call.
  NDX_ASSIGN_OR_RETURN(std::unique_ptr<RestConnection> connection, RestConnection::Open(settings));
  std::unique_ptr<RestBackend> backend(
      new RestBackend(options, origin, std::move(url.path),
                      [settings = std::move(settings)] { return RestConnection::Open(settings); }));
  backend->pool_.Add(std::move(connection));
  return backend;
}

RestBackend::RestBackend(const RestBackendOptions& options, std::string origin,
                         std::string base_path, Pool::Opener open)
    : options_(options),
      origin_(std::move(origin)),
      base_path_(std::move(base_path)),
      pool_(origin_, options.max_connections, options.wait, std::move(open)) {}

RestBackend::~RestBackend() = default;

absl::Status RestBackend::CheckBinding(const Binding& binding) {
  const std::string prefix = absl::StrCat("dataset ", binding.dataset, ": ");
  if (!binding.table.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        prefix, "a rest backend reads no table; remove table \"", binding.table, "\""));
  }
  for (const FieldBinding& field : binding.fields) {
    absl::Status supported = CheckSupportedField(*field.field);
    if (!supported.ok()) {
      return absl::Status(supported.code(), absl::StrCat(prefix, supported.message()));
    }
    if (field.field->name() == kPageSizeParameter || field.field->name() == kPageTokenParameter) {
      return absl::InvalidArgumentError(absl::StrCat(
          prefix, "field \"", field.field->name(),
          "\" has the name of a query parameter of the REST contract, so a filter on it could "
          "not be told apart from paging; rename the field"));
    }
  }
  auto mapping = std::make_shared<RestDatasetMapping>();
  mapping->schema = binding.schema;
  mapping->resolver.reset(google::protobuf::util::NewTypeResolverForDescriptorPool(
      kTypeUrlPrefix, binding.message->file()->pool()));
  mapping->type_url = absl::StrCat(kTypeUrlPrefix, "/", binding.message->full_name());
  absl::MutexLock lock(&mutex_);
  mappings_[binding.dataset] = std::move(mapping);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const RestDatasetMapping>> RestBackend::MappingOf(
    const Binding& binding) const {
  absl::ReaderMutexLock lock(&mutex_);
  auto it = mappings_.find(binding.dataset);
  if (it == mappings_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("dataset ", binding.dataset, " was not checked against ", origin_));
  }
  return it->second;
}

absl::StatusOr<RestBackend::Answer> RestBackend::Get(const Binding& binding,
                                                     const std::string& target,
                                                     absl::Time deadline) {
  const absl::Time start = absl::Now();
  const bool timeout_first = start + options_.timeout < deadline;
  const absl::Time until = timeout_first ? start + options_.timeout : deadline;
  auto late = [&] {
    return absl::DeadlineExceededError(absl::StrCat(
        "dataset ", binding.dataset, ": the agency's API at ", origin_, " did not answer ",
        timeout_first
            ? absl::StrCat("within rest.timeout_ms (", absl::FormatDuration(options_.timeout), ")")
            : std::string("before the call's deadline")));
  };
  if (until <= start) return late();
  NDX_ASSIGN_OR_RETURN(Pool::Lease lease, pool_.Acquire(until));
  for (int attempt = 1;; ++attempt) {
    RestConnection::Outcome outcome = lease->Get(target, until, options_.max_response_bytes);
    if (outcome.error == httplib::Error::Success) {
      return Answer{outcome.status, std::move(outcome.body)};
    }
    if (outcome.late || absl::Now() >= until) return late();
    if (outcome.too_large) {
      return absl::ResourceExhaustedError(
          absl::StrCat("dataset ", binding.dataset, ": the agency's API at ", origin_,
                       " sent a body larger than ", options_.max_response_bytes, " bytes"));
    }
    switch (outcome.error) {
      case httplib::Error::SSLServerVerification:
        return absl::FailedPreconditionError(absl::StrCat(
            "dataset ", binding.dataset, ": the agency's API at ", origin_,
            " presented a server certificate that does not chain to rest.ca_file or does not "
            "name its host; check rest.ca_file and rest.base_url"));
      case httplib::Error::SSLLoadingCerts:
        return absl::FailedPreconditionError(
            absl::StrCat("dataset ", binding.dataset, ": cannot load rest.ca_file ",
                         options_.ca_file, " to verify the agency's API at ", origin_));
      default:
        break;
    }
    // A kept-alive connection that the API closed while it sat in the pool fails on its first
    // use; the client has closed it, and the next request opens a new one.
    if (attempt == 1 && outcome.reused) continue;
    return absl::UnavailableError(absl::StrCat("dataset ", binding.dataset,
                                               ": the agency's API at ", origin_,
                                               " is unavailable: ", DescribeError(outcome.error)));
  }
}

absl::StatusOr<std::string> RestBackend::Fetch(const Binding& binding, absl::string_view key,
                                               const std::vector<std::string>& fields,
                                               absl::Time deadline) {
  NDX_ASSIGN_OR_RETURN(std::shared_ptr<const RestDatasetMapping> mapping, MappingOf(binding));
  NDX_ASSIGN_OR_RETURN(std::vector<const FieldBinding*> selected, binding.SelectFields(fields));
  NDX_ASSIGN_OR_RETURN(FieldValue key_value, ParseKey(binding, key));
  const std::string key_text = CanonicalText(key_value);
  if (key_text.find_first_not_of('.') == std::string::npos) {
    // "." and ".." are relative path segments, which servers resolve, whatever their encoding.
    return absl::InvalidArgumentError(
        "key: a key made only of dots cannot be sent as a URL path segment");
  }
  NDX_ASSIGN_OR_RETURN(
      Answer answer,
      Get(binding, absl::StrCat(base_path_, "/", PercentEncode(key_text)), deadline));
  const FieldDescriptor& key_field = *binding.key().field;
  if (answer.status == 404) {
    // The key is a citizen's identifier: the message names its field, never its value.
    return absl::NotFoundError(
        absl::StrCat("dataset ", binding.dataset, " has no record with this ", key_field.name()));
  }
  if (answer.status != 200) return HttpStatusError(binding, origin_, answer.status, "fetch");
  NDX_ASSIGN_OR_RETURN(Json json, ParseJson(binding, answer.body, origin_));
  // The key is mapped whether or not it was requested, to check that this is the right record.
  std::vector<const FieldBinding*> needed = selected;
  if (std::find(needed.begin(), needed.end(), &binding.key()) == needed.end()) {
    needed.push_back(&binding.key());
  }
  NDX_ASSIGN_OR_RETURN(std::unique_ptr<Message> message,
                       MapRecord(binding, *mapping, json, needed, origin_));
  const Reflection& reflection = *message->GetReflection();
  if (!reflection.HasField(*message, &key_field)) {
    SetKeyField(key_field, key_value, message.get());
  } else if (!FieldMatches(*message, key_field, key_value)) {
    return absl::InternalError(absl::StrCat(
        "dataset ", binding.dataset, ": the agency's API at ", origin_,
        " answered a fetch with a record of another ", key_field.name(),
        "; it was not returned (the API must answer GET {base}/{key} with that key's record)"));
  }
  KeepOnly(selected, message.get());
  return Serialize(binding, *message);
}

absl::StatusOr<SearchPage> RestBackend::Search(const Binding& binding,
                                               const std::vector<FieldFilter>& filters,
                                               const std::vector<std::string>& fields,
                                               int page_size, const std::string& page_token,
                                               absl::Time deadline) {
  NDX_ASSIGN_OR_RETURN(std::shared_ptr<const RestDatasetMapping> mapping, MappingOf(binding));
  NDX_ASSIGN_OR_RETURN(const size_t limit, PageRows(page_size));
  NDX_ASSIGN_OR_RETURN(std::vector<const FieldBinding*> selected, binding.SelectFields(fields));
  std::vector<ParsedFilter> parsed;
  std::vector<const FieldBinding*> needed = selected;
  std::string query;
  for (const FieldFilter& filter : filters) {
    NDX_ASSIGN_OR_RETURN(ParsedFilter one, ParseFilter(binding, filter));
    absl::StrAppend(&query, one.field->field->name(), "=", PercentEncode(CanonicalText(one.value)),
                    "&");
    if (std::find(needed.begin(), needed.end(), one.field) == needed.end()) {
      needed.push_back(one.field);
    }
    parsed.push_back(std::move(one));
  }
  absl::StrAppend(&query, kPageSizeParameter, "=", limit);
  if (!page_token.empty()) {
    NDX_ASSIGN_OR_RETURN(std::string position, DecodePageToken(binding, filters, page_token));
    absl::StrAppend(&query, "&", kPageTokenParameter, "=", PercentEncode(position));
  }
  const std::string path = absl::StrCat(base_path_, options_.search_path);
  NDX_ASSIGN_OR_RETURN(Answer answer,
                       Get(binding, absl::StrCat(path.empty() ? "/" : path, "?", query), deadline));
  if (answer.status != 200) return HttpStatusError(binding, origin_, answer.status, "query");
  NDX_ASSIGN_OR_RETURN(Json json, ParseJson(binding, answer.body, origin_));
  const std::string what =
      absl::StrCat("dataset ", binding.dataset, ": the agency's API at ", origin_);
  if (!json.is_object()) {
    return absl::InternalError(absl::StrCat(what, " answered a query with a JSON ", JsonKind(json),
                                            ", not an object with \"records\""));
  }
  auto records = json.find("records");
  if (records == json.end() || !records->is_array()) {
    return absl::InternalError(absl::StrCat(what, " answered a query without a \"records\" array"));
  }
  if (records->size() > limit) {
    return absl::InternalError(absl::StrCat(what, " answered a query with ", records->size(),
                                            " records for page_size ", limit));
  }
  std::string next;
  for (const char* name : {"next_page_token", "nextPageToken"}) {
    auto token = json.find(name);
    if (token == json.end() || token->is_null()) continue;
    if (!token->is_string()) {
      return absl::InternalError(absl::StrCat(what, " sent a ", name, " that is a JSON ",
                                              JsonKind(*token), ", not a string"));
    }
    next = token->get<std::string>();
  }

  SearchPage page;
  int dropped = 0;
  std::vector<std::string> unmatched;
  for (const Json& record : *records) {
    NDX_ASSIGN_OR_RETURN(std::unique_ptr<Message> message,
                         MapRecord(binding, *mapping, record, needed, origin_));
    bool matches = true;
    for (const ParsedFilter& filter : parsed) {
      if (!FieldMatches(*message, *filter.field->field, filter.value)) {
        matches = false;
        const std::string& name = filter.field->field->name();
        if (std::find(unmatched.begin(), unmatched.end(), name) == unmatched.end()) {
          unmatched.push_back(name);
        }
      }
    }
    if (!matches) {
      ++dropped;
      continue;
    }
    KeepOnly(selected, message.get());
    NDX_ASSIGN_OR_RETURN(std::string serialized, Serialize(binding, *message));
    page.records.push_back(std::move(serialized));
  }
  if (dropped > 0) {
    // Names the fields, never the values: the owner learns that its API ignores a parameter.
    spdlog::warn(
        "dataset {}: the agency's API at {} answered a query with {} record(s) that do not match "
        "the filter on {}; they were dropped (does the API ignore that query parameter?)",
        binding.dataset, origin_, dropped, absl::StrJoin(unmatched, ", "));
  }
  if (!next.empty()) page.next_page_token = EncodePageToken(binding, filters, next);
  return page;
}

}  // namespace ndx::adapters
