#ifndef NDX_CLI_EXCHANGE_COMMANDS_H_
#define NDX_CLI_EXCHANGE_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cli/output.h"

namespace ndx::cli {

// `ndxctl get` and `ndxctl query`: reads through the gateway's Exchange service. Records arrive
// as google.protobuf.Any of the dataset's schema type; the schema comes from
// Registry.GetDataset, and records are printed as JSON holding exactly the returned fields.

struct GetOptions {
  std::string dataset;
  std::string key;
  std::string purpose;
  std::vector<std::string> fields;
};
// Table mode: the record as indented JSON. JSON mode:
// {"request_id": ..., "fields": [...], "record": {...}}.
absl::Status Get(const GetOptions& options, CommandContext& context);

struct QueryOptions {
  std::string dataset;
  std::vector<std::string> where;  // FIELD=VALUE
  std::string purpose;
  std::vector<std::string> fields;
  int page_size = 0;
  std::string page_token;
  bool all = false;  // follow next_page_token to the end
};
// Table mode: one JSON line per record, then (on stderr) the token of the next page if any.
// JSON mode: {"request_ids": [...], "fields": [...], "records": [...], "next_page_token": ...}.
absl::Status Query(const QueryOptions& options, CommandContext& context);

}  // namespace ndx::cli

#endif  // NDX_CLI_EXCHANGE_COMMANDS_H_
