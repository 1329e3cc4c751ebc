#ifndef NDX_CLI_PARSE_H_
#define NDX_CLI_PARSE_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ndx/v1/exchange.pb.h"
#include "ndx/v1/registry.pb.h"

namespace ndx::cli {

// Parsers for ndxctl's flag values. Each returns kInvalidArgument whose message says what the
// value should look like; the CLI turns that into a usage error (exit 2).

// "ministry", "province" or "other".
absl::StatusOr<v1::NodeKind> ParseNodeKind(absl::string_view text);
// "operator" or "auditor".
absl::StatusOr<v1::Role> ParseRole(absl::string_view text);
// "requested", "approved" or "revoked".
absl::StatusOr<v1::GrantState> ParseGrantState(absl::string_view text);
// "read", "query", "export" or "subscribe".
absl::StatusOr<v1::Operation> ParseOperation(absl::string_view text);
// "open", "internal", "personal" or "sensitive".
absl::StatusOr<v1::FieldClass> ParseFieldClass(absl::string_view text);
// "FIELD=CLASS", e.g. "citizen_id=personal".
absl::StatusOr<std::pair<std::string, v1::FieldClass>> ParseFieldClassAssignment(
    absl::string_view text);
// "FIELD=VALUE", split at the first '='; the value may be empty or contain '='.
absl::StatusOr<v1::Filter> ParseWhere(absl::string_view text);
// An RFC 3339 date-time with a time zone, e.g. "2026-12-31T23:59:59Z" or
// "2026-12-31T23:59:59+07:00".
absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view text);
// A field name as given to --fields: letters, digits and '_', not starting with a digit.
absl::Status ValidateFieldName(absl::string_view name);
// The values of --rate (calls per second, a number > 0 such as 10 or 0.5) and --burst (a whole
// number >= 1, only with --rate), empty when not given: nullopt when neither is.
absl::StatusOr<std::optional<v1::RateLimit>> ParseRateLimit(absl::string_view rate,
                                                            absl::string_view burst);

// The lower-case short name of an enum value without its prefix, e.g. NODE_KIND_MINISTRY ->
// "ministry", and "-" for the UNSPECIFIED value.
std::string NodeKindName(v1::NodeKind kind);
std::string RoleName(v1::Role role);
std::string NodeStateName(v1::NodeState state);
std::string GrantStateName(v1::GrantState state);
// A grant's operations, comma-separated: "read,query,subscribe".
std::string OperationNames(const google::protobuf::RepeatedField<int>& operations);
std::string FieldClassName(v1::FieldClass field_class);
// A grant's rate limit, "10/s, burst 20", or "none".
std::string RateLimitText(const v1::Grant& grant);

}  // namespace ndx::cli

#endif  // NDX_CLI_PARSE_H_
