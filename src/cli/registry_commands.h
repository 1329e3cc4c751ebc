#ifndef NDX_CLI_REGISTRY_COMMANDS_H_
#define NDX_CLI_REGISTRY_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cli/output.h"

namespace ndx::cli {

// `ndxctl node|dataset|grant ...`: the gateway's Registry service. Flag values arrive already
// checked by the parsers of cli/parse.h (the CLI rejects bad ones as usage errors).

struct NodeRegisterOptions {
  std::string id;
  std::string name;
  std::string kind;
  std::string endpoint;
  std::vector<std::string> roles;
  bool suspended = false;
};
absl::Status NodeRegister(const NodeRegisterOptions& options, CommandContext& context);
absl::Status NodeGet(const std::string& id, CommandContext& context);
absl::Status NodeList(CommandContext& context);

struct DatasetRegisterOptions {
  std::string id;
  std::string proto_file;
  std::string message_type;
  std::string key_field;
  std::string subject_field;
  std::vector<std::string> classes;  // FIELD=CLASS
  std::string description;
};
absl::Status DatasetRegister(const DatasetRegisterOptions& options, CommandContext& context);
absl::Status DatasetList(const std::string& owner, CommandContext& context);
absl::Status DatasetDescribe(const std::string& id, CommandContext& context);

struct GrantRequestOptions {
  std::string dataset;
  std::vector<std::string> fields;
  std::vector<std::string> purposes;
  // Empty asks for the gateway's default (read, query, subscribe).
  std::vector<std::string> operations;
  std::string expires;  // RFC 3339, or
  int days = 0;         // days from now; exactly one of the two
  std::string justification;
  // --rate and --burst as given (cli/parse.h ParseRateLimit); empty when not given.
  std::string rate;
  std::string burst;
};
absl::Status GrantRequest(const GrantRequestOptions& options, CommandContext& context);

// A grant's rate limit as given on the command line.
struct GrantRateOptions {
  std::string grant_id;
  // --rate and --burst as given; empty when not given.
  std::string rate;
  std::string burst;
  // --none: remove the limit (set-rate only).
  bool none = false;
};
// Approves, with --rate/--burst replacing the rate the consumer asked for when given.
absl::Status GrantApprove(const GrantRateOptions& options, CommandContext& context);
// Sets (--rate, --burst) or removes (--none) a grant's rate limit.
absl::Status GrantSetRate(const GrantRateOptions& options, CommandContext& context);
absl::Status GrantRevoke(const std::string& id, const std::string& reason, CommandContext& context);
absl::Status GrantGet(const std::string& id, CommandContext& context);

struct GrantListOptions {
  std::string consumer;
  std::string dataset;
  std::string state;
};
absl::Status GrantList(const GrantListOptions& options, CommandContext& context);

}  // namespace ndx::cli

#endif  // NDX_CLI_REGISTRY_COMMANDS_H_
