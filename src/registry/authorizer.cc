#include "registry/authorizer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "registry/schema_fields.h"

namespace ndx::registry {
namespace {

using FieldList = google::protobuf::RepeatedPtrField<std::string>;

bool Contains(const FieldList& list, absl::string_view value) {
  for (const std::string& item : list) {
    if (item == value) return true;
  }
  return false;
}

bool Covers(const GrantSet& set, const GrantTerms& terms, absl::Span<const std::string> fields) {
  for (const std::string& field : fields) {
    if (!set.HasField(terms, field)) return false;
  }
  return true;
}

bool HasCurrentField(const GrantSet& set, const GrantTerms& terms, const DatasetEntry& entry) {
  bool found = false;
  set.ForEachField(terms, [&](absl::string_view field) {
    found = found || entry.field_numbers.contains(field);
  });
  return found;
}

// Why a grant does not allow the read, ordered from the least to the most useful to report: the
// reason given is that of the grant that came closest.
enum class Shortfall {
  kNotApproved,  // a state this version does not know
  kRevoked,
  kExpired,
  kAwaitingApproval,
  kPurpose,
  kOperation,
  kNoCurrentField,
  kFields,
};

absl::Status UnknownFields(const DatasetEntry& entry, const ReadRequest& request) {
  std::vector<absl::string_view> unknown;
  for (absl::Span<const std::string> list : {request.fields, request.filter_fields}) {
    for (const std::string& field : list) {
      if (!entry.field_numbers.contains(field) &&
          std::find(unknown.begin(), unknown.end(), field) == unknown.end()) {
        unknown.push_back(field);
      }
    }
  }
  if (unknown.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("dataset ", entry.dataset.id(), " has no field ", absl::StrJoin(unknown, ", "),
                   "; its fields are: ", internal::FieldNameList(entry.descriptor)));
}

absl::Status Denial(Shortfall shortfall, const v1::Grant& grant, const DatasetEntry& entry,
                    const ReadRequest& request) {
  switch (shortfall) {
    case Shortfall::kNotApproved:
      return absl::PermissionDeniedError(absl::StrCat("grant ", grant.id(), " is not approved"));
    case Shortfall::kRevoked:
      return absl::PermissionDeniedError(
          absl::StrCat("grant ", grant.id(), " was revoked at ",
                       FormatRfc3339(FromProtoTime(grant.revoked_at()))));
    case Shortfall::kExpired:
      return absl::PermissionDeniedError(absl::StrCat(
          "grant ", grant.id(), " expired at ", FormatRfc3339(FromProtoTime(grant.expires_at()))));
    case Shortfall::kAwaitingApproval:
      return absl::PermissionDeniedError(
          absl::StrCat("grant ", grant.id(), " is awaiting approval by ", entry.dataset.owner()));
    case Shortfall::kPurpose:
      return absl::PermissionDeniedError(
          absl::StrCat("purpose ", request.purpose, " is not covered by grant ", grant.id(),
                       ", which allows: ", absl::StrJoin(grant.purposes(), ", ")));
    case Shortfall::kOperation: {
      std::vector<std::string> allowed;
      for (int operation : grant.operations()) {
        allowed.push_back(OperationName(static_cast<v1::Operation>(operation)));
      }
      return absl::PermissionDeniedError(absl::StrCat(
          "operation ", OperationName(request.operation), " is not allowed by grant ", grant.id(),
          ", which allows: ", allowed.empty() ? "nothing" : absl::StrJoin(allowed, ", "),
          request.operation == v1::OPERATION_EXPORT
              ? " (a Query without filters is an export, which a grant must name)"
              : ""));
    }
    case Shortfall::kNoCurrentField:
      return absl::PermissionDeniedError(absl::StrCat(
          "none of the fields of grant ", grant.id(), " (", absl::StrJoin(grant.fields(), ", "),
          ") is in the current schema of dataset ", entry.dataset.id(), "; request a new grant"));
    case Shortfall::kFields: {
      std::vector<absl::string_view> missing;
      for (absl::Span<const std::string> list : {request.fields, request.filter_fields}) {
        for (const std::string& field : list) {
          if (!Contains(grant.fields(), field) &&
              std::find(missing.begin(), missing.end(), field) == missing.end()) {
            missing.push_back(field);
          }
        }
      }
      return absl::PermissionDeniedError(
          absl::StrCat(missing.size() == 1 ? "field " : "fields ", absl::StrJoin(missing, ", "),
                       missing.size() == 1 ? " is" : " are", " not covered by grant ", grant.id()));
    }
  }
  return absl::PermissionDeniedError(
      absl::StrCat("grant ", grant.id(), " does not allow the read"));
}

}  // namespace

absl::StatusOr<const v1::Node*> ActiveCaller(const Snapshot& snapshot, absl::string_view caller) {
  const v1::Node* node = snapshot.FindNode(caller);
  if (node == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat("node ", caller, " is not registered"));
  }
  if (node->state() == v1::NODE_STATE_SUSPENDED) {
    return absl::PermissionDeniedError(absl::StrCat("node ", caller, " is suspended"));
  }
  if (node->state() != v1::NODE_STATE_ACTIVE) {
    return absl::PermissionDeniedError(absl::StrCat("node ", caller, " is not active"));
  }
  return node;
}

absl::StatusOr<GrantMatch> FindCoveringGrant(const Snapshot& snapshot, absl::string_view caller,
                                             const ReadRequest& request, absl::Time now) {
  NDX_RETURN_IF_ERROR(ValidateDatasetId(request.dataset));
  NDX_RETURN_IF_ERROR(ValidatePurpose(request.purpose));
  NDX_RETURN_IF_ERROR(ActiveCaller(snapshot, caller).status());
  const DatasetEntry* entry = snapshot.FindDataset(request.dataset);
  if (entry == nullptr) {
    return absl::NotFoundError(absl::StrCat("dataset ", request.dataset, " is not registered"));
  }
  NDX_RETURN_IF_ERROR(UnknownFields(*entry, request));

  const GrantSet* grants = snapshot.FindGrantSet(caller, request.dataset);
  if (grants == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat("node ", caller, " has no grant on dataset ",
                                                    request.dataset,
                                                    "; request one with `ndxctl grant request`"));
  }
  const GrantTerms* chosen = nullptr;
  const v1::Grant* closest = nullptr;
  Shortfall closest_shortfall = Shortfall::kNotApproved;
  // Only the terms are read here; the grant messages only to explain a refusal.
  for (const GrantTerms& terms : grants->terms()) {
    Shortfall shortfall;
    if (terms.state == v1::GRANT_STATE_REVOKED) {
      shortfall = Shortfall::kRevoked;
    } else if (now >= terms.expires_at) {
      shortfall = Shortfall::kExpired;
    } else if (terms.state == v1::GRANT_STATE_REQUESTED) {
      shortfall = Shortfall::kAwaitingApproval;
    } else if (terms.state != v1::GRANT_STATE_APPROVED) {
      shortfall = Shortfall::kNotApproved;
    } else if (!grants->HasPurpose(terms, request.purpose)) {
      shortfall = Shortfall::kPurpose;
    } else if (!GrantSet::HasOperation(terms, request.operation)) {
      shortfall = Shortfall::kOperation;
    } else if (!Covers(*grants, terms, request.fields) ||
               !Covers(*grants, terms, request.filter_fields)) {
      shortfall = Shortfall::kFields;
    } else if (request.fields.empty() && !HasCurrentField(*grants, terms, *entry)) {
      shortfall = Shortfall::kNoCurrentField;
    } else {
      chosen = &terms;
      break;
    }
    // Grants come oldest first: on a tie the newest one is the most relevant to report.
    if (closest == nullptr || shortfall >= closest_shortfall) {
      closest = terms.grant;
      closest_shortfall = shortfall;
    }
  }
  if (chosen == nullptr) return Denial(closest_shortfall, *closest, *entry, request);
  return GrantMatch{chosen->grant, entry, grants, chosen};
}

absl::StatusOr<Decision> Authorize(const Snapshot& snapshot, absl::string_view caller,
                                   const ReadRequest& request, absl::Time now) {
  NDX_ASSIGN_OR_RETURN(GrantMatch match, FindCoveringGrant(snapshot, caller, request, now));
  const DatasetEntry* entry = match.dataset;
  const std::string& owner_id = entry->dataset.owner();
  const v1::Node* owner = snapshot.FindNode(owner_id);
  if (owner == nullptr) {
    return absl::UnavailableError(absl::StrCat("owner node ", owner_id, " of dataset ",
                                               request.dataset, " is not registered"));
  }
  if (owner->state() != v1::NODE_STATE_ACTIVE) {
    return absl::UnavailableError(
        absl::StrCat("owner node ", owner_id, " of dataset ", request.dataset, " is not active"));
  }
  if (owner->adapter_endpoint().empty()) {
    return absl::UnavailableError(absl::StrCat("owner node ", owner_id, " of dataset ",
                                               request.dataset, " has no adapter endpoint"));
  }

  Decision decision;
  decision.grant = match.grant;
  decision.dataset = entry;
  decision.owner = owner;
  if (request.fields.empty()) {
    decision.field_numbers.reserve(entry->field_numbers.size());
    match.grants->ForEachField(*match.terms, [&](absl::string_view field) {
      auto it = entry->field_numbers.find(field);
      if (it != entry->field_numbers.end()) decision.field_numbers.push_back(it->second);
    });
  } else {
    decision.field_numbers.reserve(request.fields.size());
    for (const std::string& field : request.fields) {
      decision.field_numbers.push_back(entry->field_numbers.find(field)->second);
    }
  }
  std::sort(decision.field_numbers.begin(), decision.field_numbers.end());
  decision.field_numbers.erase(
      std::unique(decision.field_numbers.begin(), decision.field_numbers.end()),
      decision.field_numbers.end());
  decision.fields.reserve(decision.field_numbers.size());
  for (int number : decision.field_numbers) {
    decision.fields.push_back(entry->descriptor->FindFieldByNumber(number)->name());
  }
  return decision;
}

std::string OperationName(v1::Operation operation) {
  switch (operation) {
    case v1::OPERATION_READ:
      return "read";
    case v1::OPERATION_QUERY:
      return "query";
    case v1::OPERATION_EXPORT:
      return "export";
    case v1::OPERATION_SUBSCRIBE:
      return "subscribe";
    default:
      return absl::StrCat("operation-", static_cast<int>(operation));
  }
}

bool HasRole(const v1::Node& node, v1::Role role) {
  return std::find(node.roles().begin(), node.roles().end(), role) != node.roles().end();
}

absl::Status CheckGrantInForce(const Snapshot& snapshot, absl::string_view caller,
                               absl::string_view grant_id, absl::Time now) {
  const v1::Grant* grant = snapshot.FindGrant(grant_id);
  if (grant == nullptr || grant->consumer() != caller) {
    return absl::PermissionDeniedError(absl::StrCat("grant ", grant_id, " no longer exists"));
  }
  if (grant->state() == v1::GRANT_STATE_REVOKED) {
    return absl::PermissionDeniedError(absl::StrCat(
        "grant ", grant_id, " was revoked at ", FormatRfc3339(FromProtoTime(grant->revoked_at()))));
  }
  if (now >= FromProtoTime(grant->expires_at())) {
    return absl::PermissionDeniedError(absl::StrCat(
        "grant ", grant_id, " expired at ", FormatRfc3339(FromProtoTime(grant->expires_at()))));
  }
  if (grant->state() != v1::GRANT_STATE_APPROVED) {
    return absl::PermissionDeniedError(absl::StrCat("grant ", grant_id, " is not approved"));
  }
  return absl::OkStatus();
}

}  // namespace ndx::registry
