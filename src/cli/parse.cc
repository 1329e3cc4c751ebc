#include "cli/parse.h"

#include <array>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace ndx::cli {
namespace {

template <typename Enum, size_t N>
struct EnumNames {
  std::array<std::pair<const char*, Enum>, N> entries;

  absl::StatusOr<Enum> Parse(absl::string_view what, absl::string_view text) const {
    for (const auto& [name, value] : entries) {
      if (text == name) return value;
    }
    std::vector<std::string> names;
    for (const auto& [name, value] : entries) names.push_back(name);
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", text, "\" is not one of ", absl::StrJoin(names, ", ")));
  }
};

constexpr EnumNames<v1::NodeKind, 3> kNodeKinds{{{
    {"ministry", v1::NODE_KIND_MINISTRY},
    {"province", v1::NODE_KIND_PROVINCE},
    {"other", v1::NODE_KIND_OTHER},
}}};
constexpr EnumNames<v1::Role, 2> kRoles{{{
    {"operator", v1::ROLE_OPERATOR},
    {"auditor", v1::ROLE_AUDITOR},
}}};
constexpr EnumNames<v1::GrantState, 3> kGrantStates{{{
    {"requested", v1::GRANT_STATE_REQUESTED},
    {"approved", v1::GRANT_STATE_APPROVED},
    {"revoked", v1::GRANT_STATE_REVOKED},
}}};
constexpr EnumNames<v1::Operation, 4> kOperations{{{
    {"read", v1::OPERATION_READ},
    {"query", v1::OPERATION_QUERY},
    {"export", v1::OPERATION_EXPORT},
    {"subscribe", v1::OPERATION_SUBSCRIBE},
}}};
constexpr EnumNames<v1::FieldClass, 4> kFieldClasses{{{
    {"open", v1::FIELD_CLASS_OPEN},
    {"internal", v1::FIELD_CLASS_INTERNAL},
    {"personal", v1::FIELD_CLASS_PERSONAL},
    {"sensitive", v1::FIELD_CLASS_SENSITIVE},
}}};

// NODE_KIND_MINISTRY with prefix "NODE_KIND_" -> "ministry"; an unspecified or unknown value is
// "-" (no value), or the number when the gateway is newer than this ndxctl.
std::string ShortName(const std::string& full_name, absl::string_view prefix, int number) {
  if (number == 0) return "-";
  if (full_name.empty()) return absl::StrCat(number);
  return absl::AsciiStrToLower(absl::StripPrefix(full_name, prefix));
}

}  // namespace

absl::StatusOr<v1::NodeKind> ParseNodeKind(absl::string_view text) {
  return kNodeKinds.Parse("node kind", text);
}

absl::StatusOr<v1::Role> ParseRole(absl::string_view text) { return kRoles.Parse("role", text); }

absl::StatusOr<v1::GrantState> ParseGrantState(absl::string_view text) {
  return kGrantStates.Parse("grant state", text);
}

absl::StatusOr<v1::Operation> ParseOperation(absl::string_view text) {
  return kOperations.Parse("operation", text);
}

absl::StatusOr<v1::FieldClass> ParseFieldClass(absl::string_view text) {
  return kFieldClasses.Parse("field class", text);
}

absl::Status ValidateFieldName(absl::string_view name) {
  bool ok = !name.empty() && !absl::ascii_isdigit(name.front());
  for (char c : name) ok = ok && (absl::ascii_isalnum(c) || c == '_');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("field name \"", name,
                   "\" is not a protobuf field name (letters, digits and _, not starting with a "
                   "digit)"));
}

absl::StatusOr<std::pair<std::string, v1::FieldClass>> ParseFieldClassAssignment(
    absl::string_view text) {
  size_t eq = text.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not FIELD=CLASS (e.g. citizen_id=personal)"));
  }
  std::string field(text.substr(0, eq));
  if (absl::Status valid = ValidateFieldName(field); !valid.ok()) return valid;
  absl::StatusOr<v1::FieldClass> field_class = ParseFieldClass(text.substr(eq + 1));
  if (!field_class.ok()) return field_class.status();
  return std::make_pair(std::move(field), *field_class);
}

absl::StatusOr<v1::Filter> ParseWhere(absl::string_view text) {
  size_t eq = text.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not FIELD=VALUE (e.g. province=hanoi)"));
  }
  if (absl::Status valid = ValidateFieldName(text.substr(0, eq)); !valid.ok()) return valid;
  v1::Filter filter;
  filter.set_field(std::string(text.substr(0, eq)));
  filter.set_value(std::string(text.substr(eq + 1)));
  return filter;
}

absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view text) {
  absl::Time time;
  std::string error;
  // RFC3339_full requires the date, 'T', the time with seconds and a zone ("Z" or +hh:mm).
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &time, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not an RFC 3339 date-time such as 2026-12-31T23:59:59Z or ",
                     "2026-12-31T23:59:59+07:00 (", error, ")"));
  }
  return time;
}

std::string NodeKindName(v1::NodeKind kind) {
  return ShortName(v1::NodeKind_Name(kind), "NODE_KIND_", kind);
}

std::string RoleName(v1::Role role) { return ShortName(v1::Role_Name(role), "ROLE_", role); }

std::string NodeStateName(v1::NodeState state) {
  return ShortName(v1::NodeState_Name(state), "NODE_STATE_", state);
}

std::string GrantStateName(v1::GrantState state) {
  return ShortName(v1::GrantState_Name(state), "GRANT_STATE_", state);
}

std::string OperationNames(const google::protobuf::RepeatedField<int>& operations) {
  std::vector<std::string> names;
  for (int operation : operations) {
    names.push_back(ShortName(v1::Operation_Name(operation), "OPERATION_", operation));
  }
  return absl::StrJoin(names, ",");
}

std::string FieldClassName(v1::FieldClass field_class) {
  return ShortName(v1::FieldClass_Name(field_class), "FIELD_CLASS_", field_class);
}

absl::StatusOr<std::optional<v1::RateLimit>> ParseRateLimit(absl::string_view rate,
                                                            absl::string_view burst) {
  if (rate.empty() && burst.empty()) return std::nullopt;
  if (rate.empty()) {
    return absl::InvalidArgumentError(
        "--burst needs --rate: the calls per second at which the burst comes back");
  }
  v1::RateLimit limit;
  double per_second = 0;
  if (!absl::SimpleAtod(rate, &per_second) || !std::isfinite(per_second) || per_second <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--rate \"", rate, "\" is not a number of calls per second above 0, e.g. 10 or 0.5"));
  }
  limit.set_requests_per_second(per_second);
  if (!burst.empty()) {
    uint32_t calls = 0;
    if (!absl::SimpleAtoi(burst, &calls) || calls == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--burst \"", burst,
          "\" is not a whole number of calls of at least 1; leave it out for one second's "
          "worth of calls"));
    }
    limit.set_burst(calls);
  }
  return limit;
}

std::string RateLimitText(const v1::Grant& grant) {
  if (!grant.has_rate_limit()) return "none";
  return absl::StrCat(grant.rate_limit().requests_per_second(), "/s, burst ",
                      grant.rate_limit().burst());
}

}  // namespace ndx::cli
