#include "cli/registry_commands.h"

#include <filesystem>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/cli_status.h"
#include "cli/parse.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace ndx::cli {
namespace {

// A flag value that fails its parser is a usage error naming the flag.
template <typename T>
absl::StatusOr<T> FlagValue(absl::string_view flag, absl::StatusOr<T> parsed) {
  if (!parsed.ok()) return UsageError(absl::StrCat(flag, ": ", parsed.status().message()));
  return parsed;
}

std::string JoinRoles(const google::protobuf::RepeatedField<int>& roles) {
  std::vector<std::string> names;
  for (int role : roles) names.push_back(RoleName(static_cast<v1::Role>(role)));
  return absl::StrJoin(names, ",");
}

void PrintNode(std::ostream& out, const v1::Node& node) {
  PrintKeyValues(out, {
                          {"id", node.id()},
                          {"name", node.display_name()},
                          {"kind", NodeKindName(node.kind())},
                          {"state", NodeStateName(node.state())},
                          {"roles", JoinRoles(node.roles())},
                          {"endpoint", node.adapter_endpoint()},
                          {"created", FormatTimestamp(node.created_at())},
                          {"updated", FormatTimestamp(node.updated_at())},
                      });
}

void PrintDataset(std::ostream& out, const v1::Dataset& dataset) {
  PrintKeyValues(out, {
                          {"id", dataset.id()},
                          {"owner", dataset.owner()},
                          {"message type", dataset.message_type()},
                          {"key", dataset.key_field()},
                          {"subject", dataset.subject_field()},
                          {"version", absl::StrCat(dataset.schema_version())},
                          {"description", dataset.description()},
                          {"updated", FormatTimestamp(dataset.updated_at())},
                      });
  out << '\n';
  Table fields({"FIELD", "NUMBER", "TYPE", "CLASS"});
  for (const v1::FieldInfo& field : dataset.fields()) {
    fields.AddRow({field.name(), absl::StrCat(field.number()), field.type(),
                   FieldClassName(field.field_class())});
  }
  fields.Print(out);
}

void PrintGrant(std::ostream& out, const v1::Grant& grant) {
  PrintKeyValues(out, {
                          {"id", grant.id()},
                          {"consumer", grant.consumer()},
                          {"dataset", grant.dataset()},
                          {"state", GrantStateName(grant.state())},
                          {"fields", absl::StrJoin(grant.fields(), ",")},
                          {"purposes", absl::StrJoin(grant.purposes(), ",")},
                          {"operations", OperationNames(grant.operations())},
                          {"rate limit", RateLimitText(grant)},
                          {"expires", FormatTimestamp(grant.expires_at())},
                          {"justification", grant.justification()},
                          {"requested", FormatTimestamp(grant.requested_at())},
                          {"approved by", grant.approved_by()},
                          {"approved", FormatTimestamp(grant.approved_at())},
                          {"revoked by", grant.revoked_by()},
                          {"revoked", FormatTimestamp(grant.revoked_at())},
                          {"revoke reason", grant.revoke_reason()},
                      });
}

// --rate and --burst of `options` as a limit; nullopt when neither is given.
template <typename Options>
absl::StatusOr<std::optional<v1::RateLimit>> RateLimitFlags(const Options& options) {
  absl::StatusOr<std::optional<v1::RateLimit>> parsed = ParseRateLimit(options.rate, options.burst);
  if (!parsed.ok()) return UsageError(parsed.status().message());
  return parsed;
}

// Prints one object: JSON, or the table view.
template <typename Message>
absl::Status Show(CommandContext& context, const Message& message,
                  void (*print)(std::ostream&, const Message&)) {
  if (context.json()) return PrintMessageJson(context.out(), message);
  print(context.out(), message);
  return absl::OkStatus();
}

}  // namespace

absl::Status NodeRegister(const NodeRegisterOptions& options, CommandContext& context) {
  v1::RegisterNodeRequest request;
  v1::Node& node = *request.mutable_node();
  node.set_id(options.id);
  node.set_display_name(options.name);
  NDX_ASSIGN_OR_RETURN(v1::NodeKind kind, FlagValue("--kind", ParseNodeKind(options.kind)));
  node.set_kind(kind);
  node.set_adapter_endpoint(options.endpoint);
  for (const std::string& text : options.roles) {
    NDX_ASSIGN_OR_RETURN(v1::Role role, FlagValue("--role", ParseRole(text)));
    node.add_roles(role);
  }
  node.set_state(options.suspended ? v1::NODE_STATE_SUSPENDED : v1::NODE_STATE_ACTIVE);

  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::Node registered, client->Call<v1::Node>([&](auto* ctx, auto* response) {
    return client->registry().RegisterNode(ctx, request, response);
  }));
  return Show(context, registered, &PrintNode);
}

absl::Status NodeGet(const std::string& id, CommandContext& context) {
  v1::GetNodeRequest request;
  request.set_id(id);
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::Node node, client->Call<v1::Node>([&](auto* ctx, auto* response) {
    return client->registry().GetNode(ctx, request, response);
  }));
  return Show(context, node, &PrintNode);
}

// Every page of a registry listing, in one response: ndxctl shows a listing whole. `list` is the
// Registry method's call.
template <typename Response, typename Request, typename List>
absl::StatusOr<Response> ListAll(GatewayClient& client, Request request, List list) {
  Response all;
  do {
    NDX_ASSIGN_OR_RETURN(Response page, client.Call<Response>([&](auto* ctx, auto* out) {
      return list(ctx, request, out);
    }));
    request.set_page_token(page.next_page_token());
    page.clear_next_page_token();
    all.MergeFrom(page);
  } while (!request.page_token().empty());
  return all;
}

absl::Status NodeList(CommandContext& context) {
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::ListNodesResponse response,
                       ListAll<v1::ListNodesResponse>(*client, v1::ListNodesRequest(),
                                                      [&](auto* ctx, auto& request, auto* out) {
                                                        return client->registry().ListNodes(
                                                            ctx, request, out);
                                                      }));
  if (context.json()) return PrintMessageJson(context.out(), response);
  Table table({"ID", "NAME", "KIND", "STATE", "ROLES", "ENDPOINT"});
  for (const v1::Node& node : response.nodes()) {
    table.AddRow({node.id(), node.display_name(), NodeKindName(node.kind()),
                  NodeStateName(node.state()), JoinRoles(node.roles()), node.adapter_endpoint()});
  }
  table.Print(context.out());
  return absl::OkStatus();
}

absl::Status DatasetRegister(const DatasetRegisterOptions& options, CommandContext& context) {
  v1::RegisterDatasetRequest request;
  request.set_id(options.id);
  for (const std::string& text : options.classes) {
    NDX_ASSIGN_OR_RETURN(auto assignment, FlagValue("--class", ParseFieldClassAssignment(text)));
    auto [it, inserted] =
        request.mutable_field_classes()->insert({assignment.first, assignment.second});
    if (!inserted) {
      return UsageError(absl::StrCat("--class: field ", assignment.first, " is given twice"));
    }
  }
  NDX_ASSIGN_OR_RETURN(std::string source, ReadFile(options.proto_file));
  request.set_proto_file_name(std::filesystem::path(options.proto_file).filename().string());
  request.set_proto_source(std::move(source));
  request.set_message_type(options.message_type);
  request.set_key_field(options.key_field);
  request.set_subject_field(options.subject_field);
  request.set_description(options.description);

  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::Dataset dataset,
                       client->Call<v1::Dataset>([&](auto* ctx, auto* response) {
                         return client->registry().RegisterDataset(ctx, request, response);
                       }));
  return Show(context, dataset, &PrintDataset);
}

absl::Status DatasetList(const std::string& owner, CommandContext& context) {
  v1::ListDatasetsRequest request;
  request.set_owner(owner);
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::ListDatasetsResponse response,
                       ListAll<v1::ListDatasetsResponse>(
                           *client, request, [&](auto* ctx, auto& page_request, auto* out) {
                             return client->registry().ListDatasets(ctx, page_request, out);
                           }));
  if (context.json()) return PrintMessageJson(context.out(), response);
  Table table({"ID", "OWNER", "MESSAGE TYPE", "VERSION", "FIELDS", "DESCRIPTION"});
  for (const v1::Dataset& dataset : response.datasets()) {
    table.AddRow({dataset.id(), dataset.owner(), dataset.message_type(),
                  absl::StrCat(dataset.schema_version()), absl::StrCat(dataset.fields_size()),
                  dataset.description()});
  }
  table.Print(context.out());
  return absl::OkStatus();
}

absl::Status DatasetDescribe(const std::string& id, CommandContext& context) {
  v1::GetDatasetRequest request;
  request.set_id(id);
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::Dataset dataset,
                       client->Call<v1::Dataset>([&](auto* ctx, auto* response) {
                         return client->registry().GetDataset(ctx, request, response);
                       }));
  return Show(context, dataset, &PrintDataset);
}

absl::Status GrantRequest(const GrantRequestOptions& options, CommandContext& context) {
  v1::RequestGrantRequest request;
  request.set_dataset(options.dataset);
  if (options.fields.empty()) return UsageError("--fields: name at least one field");
  for (const std::string& field : options.fields) {
    if (absl::Status valid = ValidateFieldName(field); !valid.ok()) {
      return UsageError(absl::StrCat("--fields: ", valid.message()));
    }
    request.add_fields(field);
  }
  if (options.purposes.empty()) return UsageError("--purpose: name at least one purpose");
  for (const std::string& purpose : options.purposes) request.add_purposes(purpose);
  for (const std::string& name : options.operations) {
    NDX_ASSIGN_OR_RETURN(v1::Operation operation, FlagValue("--operations", ParseOperation(name)));
    request.add_operations(operation);
  }
  if (options.expires.empty() == (options.days <= 0)) {
    return UsageError("give exactly one of --expires RFC3339 and --days N");
  }
  absl::Time expires = Clock::Real().Now() + absl::Hours(24) * options.days;
  if (!options.expires.empty()) {
    NDX_ASSIGN_OR_RETURN(expires, FlagValue("--expires", ParseRfc3339(options.expires)));
  }
  *request.mutable_expires_at() = ToTimestamp(expires);
  request.set_justification(options.justification);
  NDX_ASSIGN_OR_RETURN(std::optional<v1::RateLimit> rate_limit, RateLimitFlags(options));
  if (rate_limit.has_value()) *request.mutable_rate_limit() = *std::move(rate_limit);

  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::Grant grant, client->Call<v1::Grant>([&](auto* ctx, auto* response) {
    return client->registry().RequestGrant(ctx, request, response);
  }));
  if (context.json()) return PrintMessageJson(context.out(), grant);
  context.out() << grant.id() << '\n';
  return absl::OkStatus();
}

absl::Status GrantApprove(const GrantRateOptions& options, CommandContext& context) {
  v1::ApproveGrantRequest request;
  request.set_grant_id(options.grant_id);
  NDX_ASSIGN_OR_RETURN(std::optional<v1::RateLimit> rate_limit, RateLimitFlags(options));
  if (rate_limit.has_value()) *request.mutable_rate_limit() = *std::move(rate_limit);
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::Grant grant, client->Call<v1::Grant>([&](auto* ctx, auto* response) {
    return client->registry().ApproveGrant(ctx, request, response);
  }));
  return Show(context, grant, &PrintGrant);
}

absl::Status GrantSetRate(const GrantRateOptions& options, CommandContext& context) {
  v1::SetGrantRateLimitRequest request;
  request.set_grant_id(options.grant_id);
  NDX_ASSIGN_OR_RETURN(std::optional<v1::RateLimit> rate_limit, RateLimitFlags(options));
  if (rate_limit.has_value() == options.none) {
    return UsageError("give exactly one of --rate (with --burst if wanted) and --none");
  }
  if (rate_limit.has_value()) *request.mutable_rate_limit() = *std::move(rate_limit);
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::Grant grant, client->Call<v1::Grant>([&](auto* ctx, auto* response) {
    return client->registry().SetGrantRateLimit(ctx, request, response);
  }));
  return Show(context, grant, &PrintGrant);
}

absl::Status GrantRevoke(const std::string& id, const std::string& reason,
                         CommandContext& context) {
  v1::RevokeGrantRequest request;
  request.set_grant_id(id);
  request.set_reason(reason);
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::Grant grant, client->Call<v1::Grant>([&](auto* ctx, auto* response) {
    return client->registry().RevokeGrant(ctx, request, response);
  }));
  return Show(context, grant, &PrintGrant);
}

absl::Status GrantGet(const std::string& id, CommandContext& context) {
  v1::GetGrantRequest request;
  request.set_grant_id(id);
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::Grant grant, client->Call<v1::Grant>([&](auto* ctx, auto* response) {
    return client->registry().GetGrant(ctx, request, response);
  }));
  return Show(context, grant, &PrintGrant);
}

absl::Status GrantList(const GrantListOptions& options, CommandContext& context) {
  v1::ListGrantsRequest request;
  request.set_consumer(options.consumer);
  request.set_dataset(options.dataset);
  if (!options.state.empty()) {
    NDX_ASSIGN_OR_RETURN(v1::GrantState state,
                         FlagValue("--state", ParseGrantState(options.state)));
    request.set_state(state);
  }
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::ListGrantsResponse response,
                       ListAll<v1::ListGrantsResponse>(
                           *client, request, [&](auto* ctx, auto& page_request, auto* out) {
                             return client->registry().ListGrants(ctx, page_request, out);
                           }));
  if (context.json()) return PrintMessageJson(context.out(), response);
  Table table({"ID", "CONSUMER", "DATASET", "STATE", "FIELDS", "PURPOSES", "OPERATIONS", "RATE",
               "EXPIRES"});
  for (const v1::Grant& grant : response.grants()) {
    table.AddRow({grant.id(), grant.consumer(), grant.dataset(), GrantStateName(grant.state()),
                  absl::StrJoin(grant.fields(), ","), absl::StrJoin(grant.purposes(), ","),
                  OperationNames(grant.operations()), RateLimitText(grant),
                  FormatTimestamp(grant.expires_at())});
  }
  table.Print(context.out());
  return absl::OkStatus();
}

}  // namespace ndx::cli
