#include "registry/registry_admin.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/ids.h"
#include "common/proto_time.h"
#include "common/schema.h"
#include "common/status_macros.h"
#include "google/protobuf/util/message_differencer.h"
#include "registry/authorizer.h"
#include "registry/limits.h"
#include "registry/schema_fields.h"

namespace ndx::registry {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

bool IsOperator(const v1::Node& node) { return HasRole(node, v1::ROLE_OPERATOR); }

// "host:port" with a DNS name, an IPv4 address or a bracketed IPv6 address, and a port 1-65535.
absl::Status ValidateEndpoint(absl::string_view endpoint) {
  auto malformed = [endpoint](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("adapter_endpoint \"", endpoint, "\" is malformed (", why,
                     "): expected host:port, e.g. \"adapter.mops.gov.vn:7443\", "
                     "\"10.0.0.5:7443\" or \"[::1]:7443\", or empty for a node without adapter"));
  };
  size_t colon = endpoint.rfind(':');
  if (colon == absl::string_view::npos) return malformed("no port");
  absl::string_view host = endpoint.substr(0, colon);
  absl::string_view port = endpoint.substr(colon + 1);
  uint32_t port_number = 0;
  if (port.empty() || !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port, &port_number) || port_number < 1 || port_number > 65535) {
    return malformed("the port must be a number from 1 to 65535");
  }
  if (host.empty()) return malformed("no host");
  if (host.front() == '[') {
    bool ok = host.size() > 2 && host.back() == ']';
    for (char c : host.substr(1, host.size() - 2)) {
      ok = ok && (absl::ascii_isxdigit(c) || c == ':' || c == '.');
    }
    if (!ok) return malformed("an IPv6 host is hexadecimal digits and ':' in brackets");
    return absl::OkStatus();
  }
  for (char c : host) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '.') {
      return malformed("the host may hold only letters, digits, '-' and '.'");
    }
  }
  return absl::OkStatus();
}

// A field that identifies a record (key_field, subject_field) must be a single scalar.
absl::Status ValidateScalarField(const Descriptor* message, absl::string_view what,
                                 const std::string& name) {
  const FieldDescriptor* field = message->FindFieldByName(name);
  if (field == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", name, "\" is not a field of ", message->full_name(),
                     "; its fields are: ", internal::FieldNameList(message)));
  }
  if (field->is_repeated() || field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " \"", name, "\" is a ", internal::FieldTypeName(field),
        " field; it must be a single scalar field (string, an integer, bool or an enum)"));
  }
  return absl::OkStatus();
}

// The names of the top-level messages of `file`, for a message_type that is not among them.
std::string MessageNames(const google::protobuf::FileDescriptorSet& set,
                         const std::string& file_name) {
  std::vector<std::string> names;
  for (const google::protobuf::FileDescriptorProto& file : set.file()) {
    if (file.name() != file_name) continue;
    for (const google::protobuf::DescriptorProto& message : file.message_type()) {
      names.push_back(file.package().empty() ? message.name()
                                             : absl::StrCat(file.package(), ".", message.name()));
    }
  }
  return names.empty() ? "none" : absl::StrJoin(names, ", ");
}

absl::Status UnknownFields(const Descriptor* message, absl::string_view dataset,
                           const std::vector<std::string>& fields) {
  std::vector<absl::string_view> unknown;
  for (const std::string& field : fields) {
    if (message->FindFieldByName(field) == nullptr) unknown.push_back(field);
  }
  if (unknown.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("dataset ", dataset, " has no field ", absl::StrJoin(unknown, ", "),
                   "; its fields are: ", internal::FieldNameList(message)));
}

// The distinct strings of `values`, in their first order; linear in their number.
std::vector<std::string> Distinct(const google::protobuf::RepeatedPtrField<std::string>& values) {
  std::vector<std::string> distinct;
  absl::flat_hash_set<absl::string_view> seen;
  seen.reserve(values.size());
  for (const std::string& value : values) {
    if (seen.insert(value).second) distinct.push_back(value);
  }
  return distinct;
}

// kInvalidArgument when `text` is longer than `limit` bytes.
absl::Status CheckLength(absl::string_view what, absl::string_view text, size_t limit) {
  if (text.size() <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " is ", text.size(), " bytes long; at most ", limit, " are allowed"));
}

// kInvalidArgument when a repeated input has more than `limit` entries.
absl::Status CheckCount(absl::string_view what, int count, int limit) {
  if (count <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " has ", count, " entries; at most ", limit, " are allowed"));
}

// A page of a listing sorted by id: the items after the page token's id, at most `page_size`
// (0: the default) and about kMaxListPageBytes of them. `id_of` gives an item's id, `add` appends
// it to the response and returns its size in bytes. Returns the next page token, empty on the
// last page. Page tokens are ids, which are not personal data; they are encoded only so that
// clients treat them as opaque.
template <typename Item, typename IdOf, typename Add>
absl::StatusOr<std::string> ListPage(const std::vector<const Item*>& items, int32_t page_size,
                                     const std::string& page_token, IdOf id_of, Add add) {
  if (page_size < 0 || page_size > kMaxListPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size ", page_size, " is out of range 0-",
                                                   kMaxListPageSize, " (0 means ",
                                                   kDefaultListPageSize, ")"));
  }
  size_t limit = page_size == 0 ? kDefaultListPageSize : static_cast<size_t>(page_size);
  std::string after;
  if (!page_token.empty() && !absl::WebSafeBase64Unescape(page_token, &after)) {
    return absl::InvalidArgumentError(
        "page_token is not valid: pass back the next_page_token of the previous page unchanged, "
        "or an empty token for the first page");
  }
  auto it = items.begin();
  if (!page_token.empty()) {
    it = std::upper_bound(
        items.begin(), items.end(), after,
        [&](const std::string& id, const Item* item) { return id < id_of(*item); });
  }
  size_t count = 0, bytes = 0;
  for (; it != items.end(); ++it) {
    if (count == limit || bytes >= kMaxListPageBytes) {
      return absl::WebSafeBase64Escape(id_of(**std::prev(it)));
    }
    bytes += add(**it);
    ++count;
  }
  return std::string();
}

absl::Status GrantNotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("grant ", id, " does not exist"));
}

// The owner node of the grant's dataset; empty when the dataset is gone.
absl::string_view OwnerOf(const Snapshot& snapshot, const v1::Grant& grant) {
  const DatasetEntry* entry = snapshot.FindDataset(grant.dataset());
  return entry == nullptr ? absl::string_view() : absl::string_view(entry->dataset.owner());
}

// Grant `id` of the snapshot, when `caller` owns its dataset; the refusal completes "only the
// owner of dataset ... may <action> grant <id>".
absl::StatusOr<const v1::Grant*> GrantOwnedBy(const Snapshot& snapshot, absl::string_view caller,
                                              const std::string& id, absl::string_view action) {
  if (id.empty()) return absl::InvalidArgumentError("grant_id is required");
  const v1::Grant* found = snapshot.FindGrant(id);
  if (found == nullptr) return GrantNotFound(id);
  absl::string_view owner = OwnerOf(snapshot, *found);
  if (owner != caller) {
    return absl::PermissionDeniedError(absl::StrCat("only the owner of dataset ", found->dataset(),
                                                    " (node ", owner, ") may ", action, " grant ",
                                                    found->id()));
  }
  return found;
}

bool MaySeeGrant(const Snapshot& snapshot, const v1::Node& caller, const v1::Grant& grant) {
  return IsOperator(caller) || grant.consumer() == caller.id() ||
         OwnerOf(snapshot, grant) == caller.id();
}

// The change from `before` (nullptr for a new node) to `after`.
v1::RegistryChange NodeChange(const v1::Node* before, const v1::Node& after) {
  v1::RegistryChange change;
  change.set_node_id(after.id());
  if (before != nullptr) {
    change.set_node_existed(true);
    *change.mutable_roles_before() = before->roles();
    change.set_node_state_before(before->state());
    change.set_adapter_endpoint_before(before->adapter_endpoint());
  }
  *change.mutable_roles_after() = after.roles();
  change.set_node_state_after(after.state());
  change.set_adapter_endpoint_after(after.adapter_endpoint());
  return change;
}

// The change from `before` (nullptr for a new dataset) to `after`.
v1::RegistryChange DatasetChange(const v1::Dataset* before, const v1::Dataset& after) {
  v1::RegistryChange change;
  change.set_dataset_id(after.id());
  if (before != nullptr) change.set_schema_version_before(before->schema_version());
  change.set_schema_version_after(after.schema_version());
  change.set_key_field(after.key_field());
  change.set_subject_field(after.subject_field());
  return change;
}

// The change of a grant from `before` (UNSPECIFIED for a new grant) to `after`.
v1::RegistryChange GrantChange(v1::GrantState before, const v1::Grant& after) {
  v1::RegistryChange change;
  change.set_grant_id(after.id());
  change.set_dataset_id(after.dataset());
  change.set_consumer(after.consumer());
  *change.mutable_fields() = after.fields();
  *change.mutable_purposes() = after.purposes();
  *change.mutable_operations() = after.operations();
  *change.mutable_expires_at() = after.expires_at();
  change.set_grant_state_before(before);
  change.set_grant_state_after(after.state());
  return change;
}

// The distinct, known operations of `request` in enum order, or DefaultOperations() for none.
absl::StatusOr<std::vector<v1::Operation>> RequestedOperations(
    const v1::RequestGrantRequest& request) {
  if (request.operations().empty()) {
    return std::vector<v1::Operation>(DefaultOperations().begin(), DefaultOperations().end());
  }
  std::vector<v1::Operation> operations;
  for (int operation : request.operations()) {
    if (operation == v1::OPERATION_UNSPECIFIED || !v1::Operation_IsValid(operation)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "operation ", operation,
          " is unknown; operations are OPERATION_READ, OPERATION_QUERY, OPERATION_EXPORT and "
          "OPERATION_SUBSCRIBE"));
    }
    operations.push_back(static_cast<v1::Operation>(operation));
  }
  std::sort(operations.begin(), operations.end());
  operations.erase(std::unique(operations.begin(), operations.end()), operations.end());
  return operations;
}

// `limit` checked, with its burst filled in when left 0 (one second's worth, at least one call).
// `what` names it in messages ("rate_limit").
absl::StatusOr<v1::RateLimit> CheckedRateLimit(absl::string_view what, const v1::RateLimit& limit) {
  const double rate = limit.requests_per_second();
  if (rate == 0 && limit.burst() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what,
                     " is empty: give requests_per_second (and burst if calls may come in bursts), "
                     "or leave ",
                     what, " out for no limit"));
  }
  if (rate == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ".burst is ", limit.burst(),
        " without requests_per_second: a burst needs the rate at which calls come back, e.g. "
        "requests_per_second 10 with burst 20"));
  }
  if (!std::isfinite(rate) || rate < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ".requests_per_second is ", rate,
        "; it must be a finite number greater than 0, e.g. 10, or 0.5 for a call every two "
        "seconds"));
  }
  if (rate > kMaxGrantRequestsPerSecond) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ".requests_per_second is ", rate, "; at most ",
                     static_cast<int64_t>(kMaxGrantRequestsPerSecond), " is allowed (leave ", what,
                     " out for no limit)"));
  }
  if (limit.burst() > kMaxGrantBurst) {
    return absl::InvalidArgumentError(absl::StrCat(what, ".burst is ", limit.burst(), "; at most ",
                                                   kMaxGrantBurst, " is allowed"));
  }
  v1::RateLimit checked = limit;
  if (checked.burst() == 0) {
    checked.set_burst(static_cast<uint32_t>(std::max(1.0, std::ceil(rate))));
  }
  return checked;
}

}  // namespace

template <typename Write>
absl::Status RegistryAdmin::RecordThenWrite(ChangeRecorder& recorder,
                                            const v1::RegistryChange& change, Write write) {
  NDX_RETURN_IF_ERROR(recorder.Record(change));
  absl::Status written = write().status();
  if (!written.ok()) recorder.RecordFailure(change, written);
  return written;
}

absl::Status RegistryAdmin::RecordThenPutGrant(ChangeRecorder& recorder, v1::GrantState before,
                                               const v1::Grant& grant, uint64_t read_revision) {
  const v1::RegistryChange change = GrantChange(before, grant);
  NDX_RETURN_IF_ERROR(
      recorder.RecordGrantChange(change, grant.has_rate_limit() ? &grant.rate_limit() : nullptr));
  absl::Status written = registry_->PutGrantAsOf(grant, read_revision).status();
  if (!written.ok()) recorder.RecordFailure(change, written);
  return written;
}

absl::StatusOr<v1::Node> RegistryAdmin::RegisterNode(absl::string_view caller,
                                                     const v1::RegisterNodeRequest& request,
                                                     ChangeRecorder& recorder) {
  absl::MutexLock lock(&write_mutex_);
  std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
  NDX_ASSIGN_OR_RETURN(const v1::Node* caller_node, ActiveCaller(*snapshot, caller));
  if (!IsOperator(*caller_node)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "only an operator may register nodes, and node ", caller, " has no operator role"));
  }
  v1::Node node = request.node();
  NDX_RETURN_IF_ERROR(ValidateNodeId(node.id()));
  NDX_RETURN_IF_ERROR(CheckLength("display_name", node.display_name(), kMaxDisplayNameBytes));
  NDX_RETURN_IF_ERROR(CheckCount("roles", node.roles_size(), kMaxRoleEntries));
  if (node.kind() == v1::NODE_KIND_UNSPECIFIED || !v1::NodeKind_IsValid(node.kind())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "node ", node.id(),
        ": kind must be set to NODE_KIND_MINISTRY, NODE_KIND_PROVINCE or NODE_KIND_OTHER"));
  }
  if (!node.adapter_endpoint().empty()) {
    NDX_RETURN_IF_ERROR(ValidateEndpoint(node.adapter_endpoint()));
  }
  std::vector<v1::Role> roles;
  for (int role : node.roles()) {
    if (role == v1::ROLE_UNSPECIFIED || !v1::Role_IsValid(role)) {
      return absl::InvalidArgumentError(
          absl::StrCat("node ", node.id(), ": role ", role,
                       " is unknown; roles are ROLE_OPERATOR and ROLE_AUDITOR"));
    }
    if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
      roles.push_back(static_cast<v1::Role>(role));
    }
  }
  std::sort(roles.begin(), roles.end());
  node.clear_roles();
  for (v1::Role role : roles) node.add_roles(role);
  // Separation of duties: whoever administers the platform does not also audit it.
  if (HasRole(node, v1::ROLE_OPERATOR) && HasRole(node, v1::ROLE_AUDITOR)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "node ", node.id(),
        " may not hold both ROLE_OPERATOR and ROLE_AUDITOR: the operator and auditor roles are "
        "held by different nodes"));
  }
  const v1::Node* existing = snapshot->FindNode(node.id());
  if (node.id() == caller) {
    std::vector<int> roles_before(caller_node->roles().begin(), caller_node->roles().end());
    std::sort(roles_before.begin(), roles_before.end());
    if (!std::equal(roles_before.begin(), roles_before.end(), node.roles().begin(),
                    node.roles().end())) {
      return absl::PermissionDeniedError(absl::StrCat(
          "node ", caller, " may not change its own roles; another operator must make the change"));
    }
  }
  if (node.state() == v1::NODE_STATE_UNSPECIFIED) node.set_state(v1::NODE_STATE_ACTIVE);
  if (!v1::NodeState_IsValid(node.state())) {
    return absl::InvalidArgumentError(
        absl::StrCat("node ", node.id(), ": state ", node.state(),
                     " is unknown; states are NODE_STATE_ACTIVE and NODE_STATE_SUSPENDED"));
  }
  absl::Time now = clock_->Now();
  *node.mutable_created_at() = existing != nullptr ? existing->created_at() : ToProtoTime(now);
  *node.mutable_updated_at() = ToProtoTime(now);
  NDX_RETURN_IF_ERROR(RecordThenWrite(recorder, NodeChange(existing, node), [&] {
    return registry_->PutNodeAsOf(node, snapshot->revision());
  }));
  return node;
}

absl::StatusOr<v1::Node> RegistryAdmin::GetNode(absl::string_view caller,
                                                const v1::GetNodeRequest& request) {
  std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
  NDX_RETURN_IF_ERROR(ActiveCaller(*snapshot, caller).status());
  NDX_RETURN_IF_ERROR(ValidateNodeId(request.id()));
  const v1::Node* node = snapshot->FindNode(request.id());
  if (node == nullptr) {
    return absl::NotFoundError(absl::StrCat("node ", request.id(), " is not registered"));
  }
  return *node;
}

absl::StatusOr<v1::ListNodesResponse> RegistryAdmin::ListNodes(
    absl::string_view caller, const v1::ListNodesRequest& request) {
  std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
  NDX_RETURN_IF_ERROR(ActiveCaller(*snapshot, caller).status());
  v1::ListNodesResponse response;
  NDX_ASSIGN_OR_RETURN(*response.mutable_next_page_token(),
                       ListPage(
                           snapshot->Nodes(), request.page_size(), request.page_token(),
                           [](const v1::Node& node) -> const std::string& { return node.id(); },
                           [&](const v1::Node& node) {
                             *response.add_nodes() = node;
                             return node.ByteSizeLong();
                           }));
  return response;
}

absl::StatusOr<v1::Dataset> RegistryAdmin::RegisterDataset(
    absl::string_view caller, const v1::RegisterDatasetRequest& request, ChangeRecorder& recorder) {
  absl::MutexLock lock(&write_mutex_);
  std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
  NDX_RETURN_IF_ERROR(ActiveCaller(*snapshot, caller).status());
  const std::string& id = request.id();
  NDX_RETURN_IF_ERROR(ValidateDatasetId(id));
  NDX_RETURN_IF_ERROR(
      CheckLength("proto_file_name", request.proto_file_name(), kMaxProtoFileNameBytes));
  NDX_RETURN_IF_ERROR(CheckLength("proto_source", request.proto_source(), kMaxProtoSourceBytes));
  NDX_RETURN_IF_ERROR(CheckLength("message_type", request.message_type(), kMaxMessageTypeBytes));
  NDX_RETURN_IF_ERROR(CheckLength("key_field", request.key_field(), kMaxFieldNameBytes));
  NDX_RETURN_IF_ERROR(CheckLength("subject_field", request.subject_field(), kMaxFieldNameBytes));
  NDX_RETURN_IF_ERROR(
      CheckCount("field_classes", request.field_classes_size(), kMaxFieldsPerDataset));
  NDX_RETURN_IF_ERROR(CheckLength("description", request.description(), kMaxDescriptionBytes));
  if (AgencyOf(id) != AgencyOf(caller)) {
    return absl::PermissionDeniedError(
        absl::StrCat("node ", caller, " may register only datasets of its own agency (",
                     AgencyOf(caller), "/<name>), not ", id));
  }
  const DatasetEntry* existing = snapshot->FindDataset(id);
  if (existing != nullptr && existing->dataset.owner() != caller) {
    return absl::PermissionDeniedError(absl::StrCat("dataset ", id, " is owned by node ",
                                                    existing->dataset.owner(),
                                                    "; only its owner may re-register it"));
  }
  if (request.message_type().empty()) {
    return absl::InvalidArgumentError(
        "message_type is required: the fully-qualified name of the record message, e.g. "
        "\"civil.v1.Birth\"");
  }
  NDX_ASSIGN_OR_RETURN(google::protobuf::FileDescriptorSet file_set,
                       CompileProtoFile(request.proto_file_name(), request.proto_source()));
  NDX_ASSIGN_OR_RETURN(std::shared_ptr<const Schema> schema, Schema::Load(file_set));
  absl::StatusOr<const Descriptor*> found = schema->FindMessage(request.message_type());
  if (!found.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "message type \"", request.message_type(), "\" is not defined in ",
        request.proto_file_name(), "; it defines: ",
        MessageNames(file_set, request.proto_file_name()), " (give the name with its package)"));
  }
  const Descriptor* message = *found;
  if (message->field_count() > kMaxFieldsPerDataset) {
    return absl::InvalidArgumentError(
        absl::StrCat("message ", message->full_name(), " has ", message->field_count(),
                     " fields; a dataset's record may have at most ", kMaxFieldsPerDataset));
  }
  if (request.key_field().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("key_field is required: the field that Get looks records up by; fields of ",
                     message->full_name(), " are: ", internal::FieldNameList(message)));
  }
  NDX_RETURN_IF_ERROR(ValidateScalarField(message, "key_field", request.key_field()));
  if (!request.subject_field().empty()) {
    NDX_RETURN_IF_ERROR(ValidateScalarField(message, "subject_field", request.subject_field()));
  }
  // Sorted, so that the error names the same field whatever the map's order.
  std::vector<std::pair<std::string, v1::FieldClass>> classes(request.field_classes().begin(),
                                                              request.field_classes().end());
  std::sort(classes.begin(), classes.end());
  for (const auto& [name, field_class] : classes) {
    if (message->FindFieldByName(name) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "field_classes names \"", name, "\", which is not a field of ", message->full_name(),
          "; its fields are: ", internal::FieldNameList(message)));
    }
    if (field_class == v1::FIELD_CLASS_UNSPECIFIED || !v1::FieldClass_IsValid(field_class)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "field_classes[\"", name,
          "\"] must be FIELD_CLASS_OPEN, FIELD_CLASS_INTERNAL, FIELD_CLASS_PERSONAL or "
          "FIELD_CLASS_SENSITIVE"));
    }
  }

  v1::Dataset dataset;
  dataset.set_id(id);
  dataset.set_owner(std::string(caller));
  dataset.set_message_type(request.message_type());
  dataset.set_key_field(request.key_field());
  dataset.set_subject_field(request.subject_field());
  for (const FieldDescriptor* field : internal::FieldsByNumber(message)) {
    v1::FieldInfo* info = dataset.add_fields();
    info->set_name(field->name());
    info->set_number(field->number());
    info->set_type(internal::FieldTypeName(field));
    auto it = request.field_classes().find(field->name());
    info->set_field_class(it == request.field_classes().end() ? v1::FIELD_CLASS_PERSONAL
                                                              : it->second);
  }
  dataset.set_description(request.description());
  *dataset.mutable_schema() = std::move(file_set);
  absl::Time now = clock_->Now();
  if (existing == nullptr) {
    dataset.set_schema_version(1);
    *dataset.mutable_created_at() = ToProtoTime(now);
  } else {
    // The version counts changes of what a record is: its file and its message type.
    bool same_schema = existing->dataset.message_type() == dataset.message_type() &&
                       google::protobuf::util::MessageDifferencer::Equals(
                           existing->dataset.schema(), dataset.schema());
    dataset.set_schema_version(existing->dataset.schema_version() + (same_schema ? 0 : 1));
    *dataset.mutable_created_at() = existing->dataset.created_at();
  }
  *dataset.mutable_updated_at() = ToProtoTime(now);
  NDX_RETURN_IF_ERROR(RecordThenWrite(
      recorder, DatasetChange(existing == nullptr ? nullptr : &existing->dataset, dataset),
      [&] { return registry_->PutDatasetAsOf(dataset, snapshot->revision()); }));
  return dataset;
}

absl::StatusOr<v1::Dataset> RegistryAdmin::GetDataset(absl::string_view caller,
                                                      const v1::GetDatasetRequest& request) {
  std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
  NDX_RETURN_IF_ERROR(ActiveCaller(*snapshot, caller).status());
  NDX_RETURN_IF_ERROR(ValidateDatasetId(request.id()));
  const DatasetEntry* entry = snapshot->FindDataset(request.id());
  if (entry == nullptr) {
    return absl::NotFoundError(absl::StrCat("dataset ", request.id(), " is not registered"));
  }
  return entry->dataset;
}

absl::StatusOr<v1::ListDatasetsResponse> RegistryAdmin::ListDatasets(
    absl::string_view caller, const v1::ListDatasetsRequest& request) {
  std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
  NDX_RETURN_IF_ERROR(ActiveCaller(*snapshot, caller).status());
  std::vector<const DatasetEntry*> entries = snapshot->Datasets();
  if (!request.owner().empty()) {
    std::erase_if(entries, [&](const DatasetEntry* entry) {
      return entry->dataset.owner() != request.owner();
    });
  }
  v1::ListDatasetsResponse response;
  NDX_ASSIGN_OR_RETURN(
      *response.mutable_next_page_token(),
      ListPage(
          entries, request.page_size(), request.page_token(),
          [](const DatasetEntry& entry) -> const std::string& { return entry.dataset.id(); },
          [&](const DatasetEntry& entry) {
            *response.add_datasets() = entry.dataset;
            return entry.dataset.ByteSizeLong();
          }));
  return response;
}

absl::StatusOr<v1::Grant> RegistryAdmin::RequestGrant(absl::string_view caller,
                                                      const v1::RequestGrantRequest& request,
                                                      ChangeRecorder& recorder) {
  absl::MutexLock lock(&write_mutex_);
  std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
  NDX_RETURN_IF_ERROR(ActiveCaller(*snapshot, caller).status());
  NDX_RETURN_IF_ERROR(ValidateDatasetId(request.dataset()));
  NDX_RETURN_IF_ERROR(CheckCount("fields", request.fields_size(), kMaxFieldsPerGrant));
  NDX_RETURN_IF_ERROR(CheckCount("purposes", request.purposes_size(), kMaxPurposesPerGrant));
  NDX_RETURN_IF_ERROR(CheckCount("operations", request.operations_size(), kMaxOperationEntries));
  NDX_RETURN_IF_ERROR(
      CheckLength("justification", request.justification(), kMaxJustificationBytes));
  const DatasetEntry* entry = snapshot->FindDataset(request.dataset());
  if (entry == nullptr) {
    return absl::NotFoundError(absl::StrCat("dataset ", request.dataset(), " is not registered"));
  }
  int pending = 0;
  for (const v1::Grant* grant : snapshot->Grants()) {
    pending += grant->consumer() == caller && grant->state() == v1::GRANT_STATE_REQUESTED;
  }
  if (pending >= kMaxPendingGrantRequestsPerNode) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "node ", caller, " has ", pending, " grant requests awaiting approval, the most allowed (",
        kMaxPendingGrantRequestsPerNode,
        "); ask the owners to decide on them, or wait for them to expire"));
  }
  std::vector<std::string> fields = Distinct(request.fields());
  if (fields.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("fields is empty: name the fields to read; dataset ", request.dataset(),
                     " has: ", internal::FieldNameList(entry->descriptor)));
  }
  NDX_RETURN_IF_ERROR(UnknownFields(entry->descriptor, request.dataset(), fields));
  std::vector<std::string> purposes = Distinct(request.purposes());
  if (purposes.empty()) {
    return absl::InvalidArgumentError(
        "purposes is empty: name at least one legal basis for the reads, e.g. "
        "\"health-insurance.enrolment\"");
  }
  for (const std::string& purpose : purposes) NDX_RETURN_IF_ERROR(ValidatePurpose(purpose));
  NDX_ASSIGN_OR_RETURN(std::vector<v1::Operation> operations, RequestedOperations(request));
  std::optional<v1::RateLimit> rate_limit;
  if (request.has_rate_limit()) {
    NDX_ASSIGN_OR_RETURN(rate_limit, CheckedRateLimit("rate_limit", request.rate_limit()));
  }
  absl::Time now = clock_->Now();
  if (!request.has_expires_at()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expires_at is required: the time the grant ends, after ", FormatRfc3339(now)));
  }
  absl::Time expires_at = FromProtoTime(request.expires_at());
  if (expires_at <= now) {
    return absl::InvalidArgumentError(absl::StrCat("expires_at ", FormatRfc3339(expires_at),
                                                   " is not in the future (now is ",
                                                   FormatRfc3339(now), ")"));
  }

  v1::Grant grant;
  absl::BitGen random;
  do {
    grant.set_id(absl::StrFormat("g-%016x", absl::Uniform<uint64_t>(random)));
  } while (snapshot->FindGrant(grant.id()) != nullptr);
  grant.set_consumer(std::string(caller));
  grant.set_dataset(request.dataset());
  for (std::string& field : fields) grant.add_fields(std::move(field));
  for (std::string& purpose : purposes) grant.add_purposes(std::move(purpose));
  *grant.mutable_expires_at() = ToProtoTime(expires_at);
  grant.set_state(v1::GRANT_STATE_REQUESTED);
  grant.set_justification(request.justification());
  *grant.mutable_requested_at() = ToProtoTime(now);
  for (v1::Operation operation : operations) grant.add_operations(operation);
  if (rate_limit.has_value()) *grant.mutable_rate_limit() = *std::move(rate_limit);
  NDX_RETURN_IF_ERROR(
      RecordThenPutGrant(recorder, v1::GRANT_STATE_UNSPECIFIED, grant, snapshot->revision()));
  return grant;
}

absl::StatusOr<v1::Grant> RegistryAdmin::ApproveGrant(absl::string_view caller,
                                                      const v1::ApproveGrantRequest& request,
                                                      ChangeRecorder& recorder) {
  absl::MutexLock lock(&write_mutex_);
  std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
  NDX_RETURN_IF_ERROR(ActiveCaller(*snapshot, caller).status());
  NDX_ASSIGN_OR_RETURN(const v1::Grant* found,
                       GrantOwnedBy(*snapshot, caller, request.grant_id(), "approve"));
  switch (found->state()) {
    case v1::GRANT_STATE_REQUESTED:
      break;
    case v1::GRANT_STATE_APPROVED:
      return absl::FailedPreconditionError(
          absl::StrCat("grant ", found->id(), " is already approved"));
    case v1::GRANT_STATE_REVOKED:
      return absl::FailedPreconditionError(absl::StrCat("grant ", found->id(), " is revoked"));
    default:
      return absl::FailedPreconditionError(
          absl::StrCat("grant ", found->id(), " is not awaiting approval"));
  }
  absl::Time now = clock_->Now();
  if (FromProtoTime(found->expires_at()) <= now) {
    return absl::FailedPreconditionError(absl::StrCat(
        "grant ", found->id(), " expired at ", FormatRfc3339(FromProtoTime(found->expires_at())),
        " before it was approved; its consumer must request a new one"));
  }
  v1::Grant grant = *found;
  if (request.has_rate_limit()) {
    NDX_ASSIGN_OR_RETURN(*grant.mutable_rate_limit(),
                         CheckedRateLimit("rate_limit", request.rate_limit()));
  }
  grant.set_state(v1::GRANT_STATE_APPROVED);
  grant.set_approved_by(std::string(caller));
  *grant.mutable_approved_at() = ToProtoTime(now);
  NDX_RETURN_IF_ERROR(RecordThenPutGrant(recorder, found->state(), grant, snapshot->revision()));
  return grant;
}

absl::StatusOr<v1::Grant> RegistryAdmin::RevokeGrant(absl::string_view caller,
                                                     const v1::RevokeGrantRequest& request,
                                                     ChangeRecorder& recorder) {
  absl::MutexLock lock(&write_mutex_);
  std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
  NDX_ASSIGN_OR_RETURN(const v1::Node* caller_node, ActiveCaller(*snapshot, caller));
  if (request.grant_id().empty()) return absl::InvalidArgumentError("grant_id is required");
  NDX_RETURN_IF_ERROR(CheckLength("reason", request.reason(), kMaxRevokeReasonBytes));
  const v1::Grant* found = snapshot->FindGrant(request.grant_id());
  if (found == nullptr) return GrantNotFound(request.grant_id());
  absl::string_view owner = OwnerOf(*snapshot, *found);
  if (owner != caller && !IsOperator(*caller_node)) {
    return absl::PermissionDeniedError(
        absl::StrCat("only the owner of dataset ", found->dataset(), " (node ", owner,
                     ") or an operator may revoke grant ", found->id()));
  }
  if (found->state() == v1::GRANT_STATE_REVOKED) {
    return absl::FailedPreconditionError(
        absl::StrCat("grant ", found->id(), " is already revoked"));
  }
  v1::Grant grant = *found;
  grant.set_state(v1::GRANT_STATE_REVOKED);
  grant.set_revoked_by(std::string(caller));
  *grant.mutable_revoked_at() = ToProtoTime(clock_->Now());
  grant.set_revoke_reason(request.reason());
  NDX_RETURN_IF_ERROR(RecordThenPutGrant(recorder, found->state(), grant, snapshot->revision()));
  return grant;
}

absl::StatusOr<v1::Grant> RegistryAdmin::SetGrantRateLimit(
    absl::string_view caller, const v1::SetGrantRateLimitRequest& request,
    ChangeRecorder& recorder) {
  absl::MutexLock lock(&write_mutex_);
  std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
  NDX_RETURN_IF_ERROR(ActiveCaller(*snapshot, caller).status());
  NDX_ASSIGN_OR_RETURN(const v1::Grant* found, GrantOwnedBy(*snapshot, caller, request.grant_id(),
                                                            "set the rate limit of"));
  if (found->state() == v1::GRANT_STATE_REVOKED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "grant ", found->id(), " is revoked; a revoked grant allows no call to limit"));
  }
  v1::Grant grant = *found;
  if (request.has_rate_limit()) {
    NDX_ASSIGN_OR_RETURN(*grant.mutable_rate_limit(),
                         CheckedRateLimit("rate_limit", request.rate_limit()));
  } else {
    grant.clear_rate_limit();
  }
  NDX_RETURN_IF_ERROR(RecordThenPutGrant(recorder, found->state(), grant, snapshot->revision()));
  return grant;
}

absl::StatusOr<v1::Grant> RegistryAdmin::GetGrant(absl::string_view caller,
                                                  const v1::GetGrantRequest& request) {
  std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
  NDX_ASSIGN_OR_RETURN(const v1::Node* caller_node, ActiveCaller(*snapshot, caller));
  if (request.grant_id().empty()) return absl::InvalidArgumentError("grant_id is required");
  const v1::Grant* grant = snapshot->FindGrant(request.grant_id());
  if (grant == nullptr) return GrantNotFound(request.grant_id());
  if (!MaySeeGrant(*snapshot, *caller_node, *grant)) {
    return absl::PermissionDeniedError(
        absl::StrCat("node ", caller, " may not see grant ", grant->id(),
                     ": only its consumer, the owner of its dataset and operators may"));
  }
  return *grant;
}

absl::StatusOr<v1::ListGrantsResponse> RegistryAdmin::ListGrants(
    absl::string_view caller, const v1::ListGrantsRequest& request) {
  std::shared_ptr<const Snapshot> snapshot = registry_->snapshot();
  NDX_ASSIGN_OR_RETURN(const v1::Node* caller_node, ActiveCaller(*snapshot, caller));
  std::vector<const v1::Grant*> grants = snapshot->Grants();
  std::erase_if(grants, [&](const v1::Grant* grant) {
    return (!request.consumer().empty() && grant->consumer() != request.consumer()) ||
           (!request.dataset().empty() && grant->dataset() != request.dataset()) ||
           (request.state() != v1::GRANT_STATE_UNSPECIFIED && grant->state() != request.state()) ||
           !MaySeeGrant(*snapshot, *caller_node, *grant);
  });
  v1::ListGrantsResponse response;
  NDX_ASSIGN_OR_RETURN(*response.mutable_next_page_token(),
                       ListPage(
                           grants, request.page_size(), request.page_token(),
                           [](const v1::Grant& grant) -> const std::string& { return grant.id(); },
                           [&](const v1::Grant& grant) {
                             *response.add_grants() = grant;
                             return grant.ByteSizeLong();
                           }));
  return response;
}

absl::StatusOr<bool> RegistryAdmin::BootstrapOperators(absl::Span<const std::string> node_ids,
                                                       ChangeRecorder& recorder) {
  absl::MutexLock lock(&write_mutex_);
  for (const std::string& id : node_ids) NDX_RETURN_IF_ERROR(ValidateNodeId(id));
  // Only a new platform: once nodes exist, operators are made and unmade by operators, and a
  // restart must not give back a role that was taken away.
  const uint64_t read_revision = registry_->snapshot()->revision();
  if (!registry_->snapshot()->Nodes().empty()) return false;
  absl::Time now = clock_->Now();
  for (const std::string& id : node_ids) {
    if (registry_->snapshot()->FindNode(id) != nullptr) continue;  // listed twice
    v1::Node node;
    node.set_id(id);
    node.set_display_name(id);
    node.set_kind(v1::NODE_KIND_OTHER);
    node.set_state(v1::NODE_STATE_ACTIVE);
    node.add_roles(v1::ROLE_OPERATOR);
    *node.mutable_created_at() = ToProtoTime(now);
    *node.mutable_updated_at() = ToProtoTime(now);
    absl::Status written = RecordThenWrite(recorder, NodeChange(nullptr, node), [&] {
      return registry_->PutNodeAsOf(node, read_revision);
    });
    // Replicas of a cluster that start together each find the registry empty; the first to store
    // an operator made the platform administrable, and the others leave it as it is.
    if (absl::IsAborted(written)) return false;
    NDX_RETURN_IF_ERROR(written);
  }
  return true;
}

}  // namespace ndx::registry
