#ifndef NDX_CLI_OUTPUT_H_
#define NDX_CLI_OUTPUT_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/gateway_client.h"
#include "common/schema.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"

namespace ndx::cli {

enum class OutputFormat { kTable, kJson };

// What a command runs with: its output streams, the output format, and the gateway connection,
// made on first use so that local commands (pki) never read a profile. Not thread-safe.
class CommandContext {
 public:
  using Connector = std::function<absl::StatusOr<std::unique_ptr<GatewayClient>>()>;

  CommandContext(std::ostream& out, std::ostream& err, OutputFormat format, Connector connector)
      : out_(out), err_(err), format_(format), connector_(std::move(connector)) {}

  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  bool json() const { return format_ == OutputFormat::kJson; }

  // The connection, made by the connector the first time.
  absl::StatusOr<GatewayClient*> client();

 private:
  std::ostream& out_;
  std::ostream& err_;
  OutputFormat format_;
  Connector connector_;
  std::unique_ptr<GatewayClient> client_;
};

// A message as JSON with proto field names and every proto3 scalar printed (so scripts see
// empty strings and zeros too), one line or indented.
absl::StatusOr<std::string> MessageToJson(const google::protobuf::Message& message,
                                          bool pretty = true);
// Prints `message` as one JSON document followed by a newline.
absl::Status PrintMessageJson(std::ostream& out, const google::protobuf::Message& message);

// RFC 3339 in UTC with seconds, e.g. "2026-01-31T08:00:00Z"; "" for an unset timestamp.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp);
std::string FormatUtc(absl::Time time);
google::protobuf::Timestamp ToTimestamp(absl::Time time);

// Decodes records of a dataset (google.protobuf.Any holding a message of the dataset's schema)
// into JSON objects holding exactly the returned fields, in the order given. Immutable after
// construction.
class RecordDecoder {
 public:
  // Loads the schema of a dataset as returned by Registry.GetDataset. kInvalidArgument when the
  // schema does not load or lacks the dataset's message type.
  static absl::StatusOr<RecordDecoder> ForDataset(const v1::Dataset& dataset);

  // kInvalidArgument when the Any is of another type or its bytes do not parse.
  absl::StatusOr<nlohmann::ordered_json> Decode(const google::protobuf::Any& record,
                                                const std::vector<std::string>& fields) const;

 private:
  RecordDecoder(std::shared_ptr<const Schema> schema, const google::protobuf::Descriptor* type)
      : schema_(std::move(schema)), type_(type) {}

  std::shared_ptr<const Schema> schema_;
  const google::protobuf::Descriptor* type_;
};

}  // namespace ndx::cli

#endif  // NDX_CLI_OUTPUT_H_
