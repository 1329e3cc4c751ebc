#include "cli/exchange_commands.h"

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "cli/cli_status.h"
#include "cli/parse.h"
#include "common/status_macros.h"

namespace ndx::cli {
namespace {

// Upper bound on the pages --all follows, so that a gateway handing out tokens forever cannot
// keep ndxctl running forever.
constexpr int kMaxPages = 100000;

absl::Status CheckFields(const std::vector<std::string>& fields) {
  for (const std::string& field : fields) {
    if (absl::Status valid = ValidateFieldName(field); !valid.ok()) {
      return UsageError(absl::StrCat("--fields: ", valid.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RecordDecoder> DecoderFor(GatewayClient& client, const std::string& dataset_id) {
  v1::GetDatasetRequest request;
  request.set_id(dataset_id);
  NDX_ASSIGN_OR_RETURN(v1::Dataset dataset,
                       client.Call<v1::Dataset>([&](auto* ctx, auto* response) {
                         return client.registry().GetDataset(ctx, request, response);
                       }));
  return RecordDecoder::ForDataset(dataset);
}

std::vector<std::string> ToVector(const google::protobuf::RepeatedPtrField<std::string>& values) {
  return {values.begin(), values.end()};
}

}  // namespace

absl::Status Get(const GetOptions& options, CommandContext& context) {
  NDX_RETURN_IF_ERROR(CheckFields(options.fields));
  v1::GetRequest request;
  request.set_dataset(options.dataset);
  request.set_key(options.key);
  request.set_purpose(options.purpose);
  for (const std::string& field : options.fields) request.add_fields(field);

  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::GetResponse response,
                       client->Call<v1::GetResponse>([&](auto* ctx, auto* out) {
                         return client->exchange().Get(ctx, request, out);
                       }));
  NDX_ASSIGN_OR_RETURN(RecordDecoder decoder, DecoderFor(*client, options.dataset));
  std::vector<std::string> fields = ToVector(response.fields());
  NDX_ASSIGN_OR_RETURN(nlohmann::ordered_json record, decoder.Decode(response.record(), fields));
  if (context.json()) {
    nlohmann::ordered_json json = {
        {"request_id", response.request_id()}, {"fields", fields}, {"record", record}};
    context.out() << json.dump(2) << '\n';
  } else {
    context.out() << record.dump(2) << '\n';
  }
  return absl::OkStatus();
}

absl::Status Query(const QueryOptions& options, CommandContext& context) {
  NDX_RETURN_IF_ERROR(CheckFields(options.fields));
  v1::QueryRequest request;
  request.set_dataset(options.dataset);
  for (const std::string& where : options.where) {
    absl::StatusOr<v1::Filter> filter = ParseWhere(where);
    if (!filter.ok()) return UsageError(absl::StrCat("--where: ", filter.status().message()));
    *request.add_filters() = *std::move(filter);
  }
  request.set_purpose(options.purpose);
  for (const std::string& field : options.fields) request.add_fields(field);
  if (options.page_size < 0) return UsageError("--page-size: must be 0 or more");
  request.set_page_size(options.page_size);
  request.set_page_token(options.page_token);

  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  std::optional<RecordDecoder> decoder;
  nlohmann::ordered_json request_ids = nlohmann::ordered_json::array();
  nlohmann::ordered_json records = nlohmann::ordered_json::array();
  std::vector<std::string> fields;
  absl::flat_hash_set<std::string> seen_tokens;
  std::string next_page_token;
  for (int page = 0;; ++page) {
    NDX_ASSIGN_OR_RETURN(v1::QueryResponse response,
                         client->Call<v1::QueryResponse>([&](auto* ctx, auto* out) {
                           return client->exchange().Query(ctx, request, out);
                         }));
    // The schema is loaded once the first page is allowed, so that a refused query costs one
    // call and reports the refusal rather than a registry error.
    if (!decoder.has_value()) {
      NDX_ASSIGN_OR_RETURN(decoder, DecoderFor(*client, options.dataset));
    }
    fields = ToVector(response.fields());
    request_ids.push_back(response.request_id());
    for (const google::protobuf::Any& any : response.records()) {
      NDX_ASSIGN_OR_RETURN(nlohmann::ordered_json record, decoder->Decode(any, fields));
      if (context.json()) {
        records.push_back(std::move(record));
      } else {
        context.out() << record.dump() << '\n';
      }
    }
    next_page_token = response.next_page_token();
    if (!options.all || next_page_token.empty()) break;
    if (!seen_tokens.insert(next_page_token).second || page + 1 >= kMaxPages) {
      return absl::InternalError(absl::StrCat("the gateway keeps answering more pages (token ",
                                              next_page_token, "); stopped"));
    }
    request.set_page_token(next_page_token);
  }
  if (context.json()) {
    nlohmann::ordered_json json = {{"request_ids", request_ids},
                                   {"fields", fields},
                                   {"records", records},
                                   {"next_page_token", next_page_token}};
    context.out() << json.dump(2) << '\n';
  } else if (!next_page_token.empty()) {
    context.err() << "more records: add --page-token " << next_page_token << " (or use --all)\n";
  }
  return absl::OkStatus();
}

}  // namespace ndx::cli
