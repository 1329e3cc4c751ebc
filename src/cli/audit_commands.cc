#include "cli/audit_commands.h"

#include <grpcpp/create_channel.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "audit/checkpoint.h"
#include "cli/gateway_client.h"
#include "cli/parse.h"
#include "cli/table.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "crypto/spiffe_id.h"
#include "crypto/tls.h"

namespace ndx::cli {
namespace {

// Payload marking a failed verification (exit 4); see cli_status.cc for the other origins.
constexpr char kVerificationUrl[] = "type.ndx.gov.vn/ndxctl.VerificationFailure";

// Upper bound on the pages --all follows, as in `ndxctl query`.
constexpr int kMaxPages = 100000;

// How often the progress bar is redrawn.
constexpr absl::Duration kProgressInterval = absl::Milliseconds(100);

std::string DecisionName(v1::AuditEntry::Decision decision) {
  switch (decision) {
    case v1::AuditEntry::DECISION_ALLOW:
      return "allow";
    case v1::AuditEntry::DECISION_DENY:
      return "deny";
    default:
      return "-";
  }
}

std::string Hex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

absl::StatusOr<GatewayClient*> Connected(const AuditConnector& connect,
                                         std::unique_ptr<GatewayClient>& holder) {
  if (holder == nullptr) {
    NDX_ASSIGN_OR_RETURN(holder, connect());
  }
  return holder.get();
}

// Calls `visit` on each entry of ExportEntries [start, end), checking that they come in order
// with no gap: kDataLoss names the first missing entry. Stops at the first error `visit` returns.
absl::Status ForEachExported(GatewayClient& client, const std::string& log, uint64_t start,
                             uint64_t end,
                             const std::function<absl::Status(const v1::ExportedEntry&)>& visit) {
  // ExportEntries reads end 0 as "the current size": an empty range is never asked for.
  if (start >= end) return absl::OkStatus();
  grpc::ClientContext context;
  v1::ExportEntriesRequest request;
  request.set_start(start);
  request.set_end(end);
  request.set_log(log);
  std::unique_ptr<grpc::ClientReaderInterface<v1::ExportedEntry>> reader =
      client.audit().ExportEntries(&context, request);
  v1::ExportedEntry entry;
  uint64_t next = start;
  absl::Status visited;
  while (reader->Read(&entry)) {
    if (next == end) {
      visited = absl::DataLossError(
          absl::StrCat("the export gave entry ", entry.sequence(), " past the end ", end));
    } else if (entry.sequence() != next) {
      visited = absl::DataLossError(
          entry.sequence() > next
              ? absl::StrCat("entry ", next, " is missing from the export (the next one is ",
                             entry.sequence(), ")")
              : absl::StrCat("the export gave entry ", entry.sequence(), " where entry ", next,
                             " belongs"));
    } else {
      visited = visit(entry);
      ++next;
    }
    if (!visited.ok()) {
      context.TryCancel();
      break;
    }
  }
  grpc::Status finished = reader->Finish();
  NDX_RETURN_IF_ERROR(visited);
  // The gateway saying that it cannot produce an entry its checkpoint commits to is evidence about
  // the log, not a failed call.
  if (finished.error_code() == grpc::StatusCode::DATA_LOSS) {
    return absl::DataLossError(
        absl::StrCat("the gateway cannot produce entry ", next, ": ", finished.error_message()));
  }
  NDX_RETURN_IF_ERROR(RpcError(finished));
  if (next != end) {
    return absl::DataLossError(absl::StrCat("the export ended before entry ", next, "; entries [",
                                            next, ", ", end, ") are missing"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<audit::Hash>> ToHashes(
    const google::protobuf::RepeatedPtrField<std::string>& bytes, absl::string_view what) {
  std::vector<audit::Hash> hashes;
  hashes.reserve(bytes.size());
  for (int i = 0; i < bytes.size(); ++i) {
    audit::Hash hash;
    if (bytes[i].size() != hash.size()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": hash ", i, " has ", bytes[i].size(),
                                                     " bytes instead of ", hash.size()));
    }
    std::copy(bytes[i].begin(), bytes[i].end(), hash.begin());
    hashes.push_back(hash);
  }
  return hashes;
}

absl::Status Prefixed(absl::string_view prefix, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

// --- audit query ------------------------------------------------------------------------------

std::string Roles(const google::protobuf::RepeatedField<int>& roles) {
  if (roles.empty()) return "none";
  std::vector<std::string> names;
  for (int role : roles) names.push_back(RoleName(static_cast<v1::Role>(role)));
  return absl::StrJoin(names, ",");
}

// A registry write's change in a few words: what it touched and what moved, "a→b".
std::string ChangeSummary(const v1::AuditEntry& entry) {
  if (!entry.has_change()) return "";
  const v1::RegistryChange& change = entry.change();
  std::vector<std::string> parts;
  if (!change.grant_id().empty()) {
    parts.push_back(absl::StrCat("grant ", change.grant_id(), " ",
                                 GrantStateName(change.grant_state_before()), "→",
                                 GrantStateName(change.grant_state_after())));
    parts.push_back(absl::StrCat("for ", change.consumer()));
    parts.push_back(absl::StrCat("operations ", OperationNames(change.operations())));
    if (entry.has_grant_rate_limit()) {
      parts.push_back(absl::StrCat("rate ", entry.grant_rate_limit().requests_per_second(),
                                   "/s burst ", entry.grant_rate_limit().burst()));
    } else if (entry.operation() == "Registry.SetGrantRateLimit") {
      parts.push_back("rate none");
    }
  } else if (!change.dataset_id().empty()) {
    parts.push_back(absl::StrCat("dataset ", change.dataset_id(), " schema v",
                                 change.schema_version_before(), "→v",
                                 change.schema_version_after()));
  } else if (!change.node_id().empty()) {
    parts.push_back(absl::StrCat("node ", change.node_id(), change.node_existed() ? "" : " (new)"));
    std::string before = change.node_existed() ? Roles(change.roles_before()) : "-";
    std::string after = Roles(change.roles_after());
    if (before != after) parts.push_back(absl::StrCat("roles ", before, "→", after));
    if (change.node_state_before() != change.node_state_after()) {
      parts.push_back(absl::StrCat("state ", NodeStateName(change.node_state_before()), "→",
                                   NodeStateName(change.node_state_after())));
    }
    if (change.adapter_endpoint_before() != change.adapter_endpoint_after()) {
      parts.push_back(absl::StrCat("endpoint ", change.adapter_endpoint_before(), "→",
                                   change.adapter_endpoint_after()));
    }
  }
  return absl::StrJoin(parts, " ");
}

std::vector<std::string> QueryColumns(const v1::AuditEntry& entry) {
  return {absl::StrCat(entry.sequence()), FormatTimestamp(entry.time()), entry.caller(),
          entry.operation(), entry.dataset(), entry.purpose(), DecisionName(entry.decision()),
          entry.code(),
          // An entry of refusals for overload stands for refused_calls calls; any other for one.
          absl::StrCat(std::max<uint64_t>(1, entry.refused_calls())),
          absl::StrJoin(entry.fields(), ","), ChangeSummary(entry)};
}

absl::StatusOr<v1::QueryEntriesRequest> QueryRequest(const AuditQueryOptions& options) {
  v1::QueryEntriesRequest request;
  if (!options.from.empty()) {
    absl::StatusOr<absl::Time> from = ParseRfc3339(options.from);
    if (!from.ok()) return UsageError(absl::StrCat("--from: ", from.status().message()));
    *request.mutable_from() = ToTimestamp(*from);
  }
  if (!options.to.empty()) {
    absl::StatusOr<absl::Time> to = ParseRfc3339(options.to);
    if (!to.ok()) return UsageError(absl::StrCat("--to: ", to.status().message()));
    *request.mutable_to() = ToTimestamp(*to);
  }
  if (request.has_from() && request.has_to() &&
      request.from().seconds() >= request.to().seconds()) {
    return UsageError("--from must be before --to");
  }
  request.set_caller(options.caller);
  request.set_dataset(options.dataset);
  if (options.decision == "allow") {
    request.set_decision(v1::AuditEntry::DECISION_ALLOW);
  } else if (options.decision == "deny") {
    request.set_decision(v1::AuditEntry::DECISION_DENY);
  } else if (!options.decision.empty()) {
    return UsageError(
        absl::StrCat("--decision: \"", options.decision, "\" is neither allow nor deny"));
  }
  request.set_subject(options.subject);
  if (options.page_size < 0 || options.page_size > 1000) {
    return UsageError("--page-size: must be from 0 (the gateway's default) to 1000");
  }
  request.set_page_size(options.page_size);
  request.set_page_token(options.page_token);
  return request;
}

// --- audit verify -----------------------------------------------------------------------------

// The verifier keys from their text or from files holding them, one key a line (a cluster's
// logs each have their own).
absl::StatusOr<std::vector<audit::VerifierKey>> LoadVerifierKeys(
    const std::vector<std::string>& keys_or_files) {
  std::vector<audit::VerifierKey> keys;
  for (const std::string& key_or_file : keys_or_files) {
    std::string text = key_or_file;
    std::error_code error;
    if (std::filesystem::is_regular_file(key_or_file, error)) {
      NDX_ASSIGN_OR_RETURN(text, ReadFile(key_or_file));
    }
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
      absl::StatusOr<audit::VerifierKey> key =
          audit::ParseVerifierKey(absl::StripAsciiWhitespace(line));
      if (!key.ok()) {
        return UsageError(absl::StrCat("--key: ", key.status().message(),
                                       " (give the log's verifier key NAME+KEYID+BASE64 or a file "
                                       "holding it)"));
      }
      keys.push_back(*std::move(key));
    }
  }
  if (keys.empty()) return UsageError("--key: give the log's verifier key");
  return keys;
}

// The last checkpoint `audit verify` trusted, as stored in its state file.
struct TrustedState {
  audit::Checkpoint checkpoint;
  std::string note;
};

// Reads the state file; nullopt when it does not exist yet. Its note must verify under `key` and
// say what its fields say: a state file edited by hand, or made with another key, is refused.
absl::StatusOr<std::optional<TrustedState>> LoadState(const std::string& path,
                                                      const audit::VerifierKey& key) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return std::nullopt;
  NDX_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("note") ||
      !json["note"].is_string() || !json.contains("size") || !json["size"].is_number_unsigned() ||
      !json.contains("root") || !json["root"].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state file ", path,
        " is not a JSON object with \"size\", \"root\" and \"note\"; move it away to start over"));
  }
  TrustedState state;
  state.note = json["note"].get<std::string>();
  absl::StatusOr<audit::Checkpoint> checkpoint = audit::VerifyCheckpoint(state.note, key);
  if (!checkpoint.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("state file ", path, ": its checkpoint does not verify under this key (",
                     checkpoint.status().message(), "); is it the log's key?"));
  }
  if (checkpoint->size != json["size"].get<uint64_t>() ||
      Hex(crypto::AsBytes(checkpoint->root)) != json["root"].get<std::string>()) {
    return absl::FailedPreconditionError(
        absl::StrCat("state file ", path, ": \"size\" and \"root\" differ from its signed note"));
  }
  state.checkpoint = *checkpoint;
  return state;
}

absl::Status SaveState(const std::string& path, const audit::Checkpoint& checkpoint,
                       const std::string& note) {
  nlohmann::ordered_json json = {{"origin", checkpoint.origin},
                                 {"size", checkpoint.size},
                                 {"root", Hex(crypto::AsBytes(checkpoint.root))},
                                 {"time", FormatUtc(checkpoint.time)},
                                 {"note", note}};
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (error) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create ", parent.string(), ": ", error.message()));
    }
  }
  return WriteFileAtomically(path, json.dump(2) + "\n", 0600);
}

// Default check: each entry in [start, checkpoint.size) is in the checkpoint's tree, by an
// inclusion proof checked against the leaf hash of the exported bytes.
absl::StatusOr<uint64_t> CheckNewEntries(GatewayClient& client, const std::string& log,
                                         uint64_t start, const audit::Checkpoint& checkpoint) {
  uint64_t checked = 0;
  NDX_RETURN_IF_ERROR(ForEachExported(
      client, log, start, checkpoint.size, [&](const v1::ExportedEntry& entry) -> absl::Status {
        v1::GetInclusionProofRequest request;
        request.set_log(log);
        request.set_sequence(entry.sequence());
        request.set_tree_size(checkpoint.size);
        NDX_ASSIGN_OR_RETURN(v1::InclusionProof proof,
                             client.Call<v1::InclusionProof>([&](auto* ctx, auto* response) {
                               return client.audit().GetInclusionProof(ctx, request, response);
                             }));
        absl::string_view what = "inclusion proof";
        NDX_ASSIGN_OR_RETURN(std::vector<audit::Hash> hashes, ToHashes(proof.hashes(), what));
        NDX_RETURN_IF_ERROR(
            Prefixed(absl::StrCat("entry ", entry.sequence(), " is not in the tree of size ",
                                  checkpoint.size, ": "),
                     audit::VerifyInclusion(audit::LeafHash(entry.entry()), entry.sequence(),
                                            checkpoint.size, hashes, checkpoint.root)));
        ++checked;
        return absl::OkStatus();
      }));
  return checked;
}

// --full: recomputes the root from every entry [0, checkpoint.size); also checks on the way that
// the first `trusted` entries still hash to the trusted root.
absl::StatusOr<uint64_t> CheckAllEntries(GatewayClient& client, const std::string& log,
                                         const audit::Checkpoint& checkpoint,
                                         const std::optional<TrustedState>& trusted) {
  StreamingRoot root;
  auto check_trusted = [&]() -> absl::Status {
    if (!trusted.has_value() || root.size() != trusted->checkpoint.size) return absl::OkStatus();
    if (root.Root() == trusted->checkpoint.root) return absl::OkStatus();
    return absl::DataLossError(
        absl::StrCat("entries [0, ", root.size(), ") hash to ", Hex(crypto::AsBytes(root.Root())),
                     ", not to the trusted root ", Hex(crypto::AsBytes(trusted->checkpoint.root)),
                     ": an old entry was altered or removed"));
  };
  NDX_RETURN_IF_ERROR(check_trusted());
  NDX_RETURN_IF_ERROR(
      ForEachExported(client, log, 0, checkpoint.size, [&](const v1::ExportedEntry& entry) {
        root.AddLeaf(audit::LeafHash(entry.entry()));
        return check_trusted();
      }));
  if (root.Root() != checkpoint.root) {
    return absl::DataLossError(
        absl::StrCat("entries [0, ", checkpoint.size, ") hash to ",
                     Hex(crypto::AsBytes(root.Root())), ", not to the signed root ",
                     Hex(crypto::AsBytes(checkpoint.root)), ": an entry was altered or removed"));
  }
  return root.size();
}

// --- audit export -----------------------------------------------------------------------------

// Shows how far an export is: a redrawn bar on a terminal, else one summary line at the end.
class Progress {
 public:
  Progress(std::ostream& err, uint64_t total)
      : err_(err),
        total_(total),
        tty_(&err == &std::cerr && ::isatty(STDERR_FILENO) == 1),
        start_(absl::Now()) {}

  void Update(uint64_t done, bool final = false) {
    if (!tty_) return;
    absl::Time now = absl::Now();
    if (!final && now - last_draw_ < kProgressInterval) return;
    last_draw_ = now;
    double seconds = absl::ToDoubleSeconds(now - start_);
    double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    constexpr int kWidth = 30;
    int filled = total_ == 0 ? kWidth : static_cast<int>(kWidth * done / total_);
    std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '-');
    std::string eta = "-";
    if (rate > 0 && done < total_) {
      int64_t left = static_cast<int64_t>(static_cast<double>(total_ - done) / rate);
      eta = absl::StrFormat("%d:%02d", left / 60, left % 60);
    }
    err_ << absl::StrFormat("\r[%s] %d/%d entries  %.0f/s  ETA %s   ", bar, done, total_, rate, eta)
         << std::flush;
    if (final) err_ << '\n';
  }

  void Finish(uint64_t done, absl::string_view summary) {
    if (tty_) {
      Update(done, /*final=*/true);
      return;
    }
    double seconds = absl::ToDoubleSeconds(absl::Now() - start_);
    err_ << summary
         << absl::StrFormat(" in %.1f s (%.0f entries/s)\n", seconds,
                            seconds > 0 ? static_cast<double>(done) / seconds : 0.0);
  }

 private:
  std::ostream& err_;
  uint64_t total_;
  bool tty_;
  absl::Time start_;
  // The first draw waits one interval, so that the rate and ETA rest on more than one entry.
  absl::Time last_draw_ = start_;
};

void PutBigEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

absl::StatusOr<std::string> EncodeExported(const v1::ExportedEntry& exported, bool jsonl) {
  if (!jsonl) {
    std::string record;
    PutBigEndian(record, exported.sequence(), 8);
    PutBigEndian(record, exported.entry().size(), 4);
    record += exported.entry();
    return record;
  }
  v1::AuditEntry entry;
  if (!entry.ParseFromString(exported.entry())) {
    return absl::DataLossError(
        absl::StrCat("entry ", exported.sequence(), " is not a valid ndx.v1.AuditEntry"));
  }
  entry.set_sequence(exported.sequence());
  NDX_ASSIGN_OR_RETURN(std::string json, MessageToJson(entry, /*pretty=*/false));
  return json + "\n";
}

}  // namespace

absl::Status VerificationFailure(const absl::Status& status) {
  if (status.ok()) return status;
  absl::Status failure(status.code(), absl::StrCat("verification failed: ", status.message()));
  failure.SetPayload(kVerificationUrl, absl::Cord("1"));
  return failure;
}

bool IsVerificationFailure(const absl::Status& status) {
  return status.GetPayload(kVerificationUrl).has_value();
}

void StreamingRoot::AddLeaf(const audit::Hash& leaf_hash) {
  // Each trailing one bit of the old size is a perfect subtree the new leaf completes.
  audit::Hash hash = leaf_hash;
  for (uint64_t n = size_; (n & 1) != 0; n >>= 1) {
    hash = audit::NodeHash(subtrees_.back(), hash);
    subtrees_.pop_back();
  }
  subtrees_.push_back(hash);
  ++size_;
}

audit::Hash StreamingRoot::Root() const {
  if (subtrees_.empty()) return audit::EmptyRoot();
  // RFC 9162 splits at the largest power of two below the size, so the root folds the
  // decomposition from the right.
  audit::Hash hash = subtrees_.back();
  for (size_t i = subtrees_.size() - 1; i > 0; --i) hash = audit::NodeHash(subtrees_[i - 1], hash);
  return hash;
}

std::string CsvField(absl::string_view text) {
  if (text.find_first_of(",\"\r\n") == absl::string_view::npos) return std::string(text);
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

std::string ClusterStatePath(const std::string& base, const std::string& origin) {
  std::string name;
  for (char c : origin) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') {
      name.push_back(c);
    } else {
      absl::StrAppend(&name, absl::StrFormat("%%%02X", static_cast<unsigned char>(c)));
    }
  }
  absl::string_view stem = base;
  const bool json = absl::ConsumeSuffix(&stem, ".json");
  return absl::StrCat(stem, ".", name, json ? ".json" : "");
}

std::string DefaultAuditStatePath(const char* home) {
  if (home == nullptr || home[0] == '\0') return "";
  return absl::StrCat(home, "/.config/ndx/audit-state.json");
}

absl::Status AuditQuery(const AuditQueryOptions& options, const AuditConnector& connect,
                        CommandContext& context) {
  NDX_ASSIGN_OR_RETURN(v1::QueryEntriesRequest request, QueryRequest(options));
  std::unique_ptr<GatewayClient> holder;
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, Connected(connect, holder));
  v1::QueryEntriesResponse all;
  absl::flat_hash_set<std::string> seen_tokens;
  absl::flat_hash_set<std::string> missing_replicas;
  for (int page = 0;; ++page) {
    NDX_ASSIGN_OR_RETURN(v1::QueryEntriesResponse response,
                         client->Call<v1::QueryEntriesResponse>([&](auto* ctx, auto* out) {
                           return client->audit().QueryEntries(ctx, request, out);
                         }));
    for (v1::AuditEntry& entry : *response.mutable_entries()) {
      *all.add_entries() = std::move(entry);
    }
    for (std::string& log : *response.mutable_entry_logs()) all.add_entry_logs(std::move(log));
    for (v1::UnavailableLog& missing : *response.mutable_unavailable_logs()) {
      if (missing_replicas.insert(missing.replica_id()).second) {
        *all.add_unavailable_logs() = std::move(missing);
      }
    }
    all.set_next_page_token(response.next_page_token());
    if (!options.all || response.next_page_token().empty()) break;
    if (!seen_tokens.insert(response.next_page_token()).second || page + 1 >= kMaxPages) {
      return absl::InternalError(absl::StrCat("the gateway keeps answering more pages (token ",
                                              response.next_page_token(), "); stopped"));
    }
    request.set_page_token(response.next_page_token());
  }

  // A cluster's logs each have their own sequences: which log an entry is in is shown once the
  // answer spans several.
  const bool several_logs =
      all.entry_logs_size() == all.entries_size() &&
      absl::flat_hash_set<std::string>(all.entry_logs().begin(), all.entry_logs().end()).size() > 1;
  auto columns = [&](int i) {
    std::vector<std::string> cells = QueryColumns(all.entries(i));
    if (several_logs) cells.insert(cells.begin(), all.entry_logs(i));
    return cells;
  };
  for (const v1::UnavailableLog& missing : all.unavailable_logs()) {
    context.err() << "warning: the log of replica " << missing.replica_id()
                  << (missing.log().empty() ? "" : absl::StrCat(" (", missing.log(), ")"))
                  << " did not answer, its entries are missing: " << missing.reason() << '\n';
  }
  if (context.json()) return PrintMessageJson(context.out(), all);
  if (options.csv) {
    context.out()
        << (several_logs ? "log," : "")
        << "seq,time,caller,operation,dataset,purpose,decision,code,calls,fields,change\r\n";
    for (int i = 0; i < all.entries_size(); ++i) {
      std::vector<std::string> cells = columns(i);
      for (std::string& cell : cells) cell = CsvField(cell);
      context.out() << absl::StrJoin(cells, ",") << "\r\n";
    }
  } else {
    std::vector<std::string> headers = {"SEQ",     "TIME",    "CALLER",   "OPERATION",
                                        "DATASET", "PURPOSE", "DECISION", "CODE",
                                        "CALLS",   "FIELDS",  "CHANGE"};
    if (several_logs) headers.insert(headers.begin(), "LOG");
    Table table(headers);
    for (int i = 0; i < all.entries_size(); ++i) table.AddRow(columns(i));
    table.Print(context.out());
  }
  if (!all.next_page_token().empty()) {
    context.err() << "more entries: add --page-token " << all.next_page_token()
                  << " (or use --all)\n";
  }
  return absl::OkStatus();
}

absl::Status AuditCheckpoint(bool sign_now, const AuditConnector& connect,
                             CommandContext& context) {
  v1::GetCheckpointRequest request;
  request.set_sign_now(sign_now);
  std::unique_ptr<GatewayClient> holder;
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, Connected(connect, holder));
  NDX_ASSIGN_OR_RETURN(v1::SignedCheckpoint checkpoint,
                       client->Call<v1::SignedCheckpoint>([&](auto* ctx, auto* out) {
                         return client->audit().GetCheckpoint(ctx, request, out);
                       }));
  if (context.json()) {
    nlohmann::ordered_json json = {{"tree_size", checkpoint.tree_size()},
                                   {"root_hash", Hex(checkpoint.root_hash())},
                                   {"time", FormatTimestamp(checkpoint.time())},
                                   {"note", checkpoint.note()}};
    context.out() << json.dump(2) << '\n';
    return absl::OkStatus();
  }
  PrintKeyValues(context.out(), {{"size", absl::StrCat(checkpoint.tree_size())},
                                 {"root", Hex(checkpoint.root_hash())},
                                 {"time", FormatTimestamp(checkpoint.time())}});
  context.out() << '\n' << checkpoint.note();
  if (!checkpoint.note().empty() && checkpoint.note().back() != '\n') context.out() << '\n';
  return absl::OkStatus();
}

namespace {

// What verifying one log found.
struct VerifiedLog {
  audit::Checkpoint latest;
  uint64_t old_size = 0;
  bool first_run = false;
  uint64_t checked = 0;
};

// Verifies the log `log` ("" for the gateway's own) with `key` against the trusted state in
// `state_path`, and stores its latest checkpoint there once everything verified. A failed
// verification is marked (IsVerificationFailure); a failed call is not.
absl::StatusOr<VerifiedLog> VerifyLog(GatewayClient& client, const audit::VerifierKey& key,
                                      const std::string& state_path, const std::string& log,
                                      const AuditVerifyOptions& options) {
  NDX_ASSIGN_OR_RETURN(std::optional<TrustedState> trusted, LoadState(state_path, key));
  v1::GetCheckpointRequest checkpoint_request;
  checkpoint_request.set_log(log);
  NDX_ASSIGN_OR_RETURN(v1::SignedCheckpoint signed_checkpoint,
                       client.Call<v1::SignedCheckpoint>([&](auto* ctx, auto* out) {
                         return client.audit().GetCheckpoint(ctx, checkpoint_request, out);
                       }));
  // Only what the signature covers counts; the response's other fields are conveniences.
  absl::StatusOr<audit::Checkpoint> latest = audit::VerifyCheckpoint(signed_checkpoint.note(), key);
  if (!latest.ok()) {
    return VerificationFailure(Prefixed("the latest checkpoint: ", latest.status()));
  }
  const std::string& required = log.empty() ? options.origin : log;
  if (!required.empty() && latest->origin != required) {
    return VerificationFailure(absl::DataLossError(
        absl::StrCat("the checkpoint is of log \"", latest->origin, "\", not \"", required, "\"")));
  }
  VerifiedLog verified;
  verified.first_run = !trusted.has_value();
  verified.old_size = trusted.has_value() ? trusted->checkpoint.size : 0;
  if (trusted.has_value()) {
    const audit::Checkpoint& old = trusted->checkpoint;
    if (latest->origin != old.origin) {
      return VerificationFailure(
          absl::DataLossError(absl::StrCat("the checkpoint is of log \"", latest->origin,
                                           "\", the trusted one of \"", old.origin, "\"")));
    }
    if (latest->size < old.size) {
      return VerificationFailure(
          absl::DataLossError(absl::StrCat("the log shrank: the trusted checkpoint has ", old.size,
                                           " entries, the latest one ", latest->size)));
    }
    std::vector<audit::Hash> proof;
    if (old.size > 0 && old.size < latest->size) {
      v1::GetConsistencyProofRequest request;
      request.set_old_size(old.size);
      request.set_new_size(latest->size);
      request.set_log(log);
      NDX_ASSIGN_OR_RETURN(v1::ConsistencyProof response,
                           client.Call<v1::ConsistencyProof>([&](auto* ctx, auto* out) {
                             return client.audit().GetConsistencyProof(ctx, request, out);
                           }));
      absl::StatusOr<std::vector<audit::Hash>> hashes =
          ToHashes(response.hashes(), "consistency proof");
      if (!hashes.ok()) return VerificationFailure(hashes.status());
      proof = *std::move(hashes);
    }
    absl::Status consistent =
        audit::VerifyConsistency(old.size, latest->size, old.root, latest->root, proof);
    if (!consistent.ok()) {
      return VerificationFailure(
          Prefixed(absl::StrCat("the log of size ", latest->size,
                                " does not extend the trusted one of size ", old.size, ": "),
                   consistent));
    }
  }

  absl::StatusOr<uint64_t> checked = options.full
                                         ? CheckAllEntries(client, log, *latest, trusted)
                                         : CheckNewEntries(client, log, verified.old_size, *latest);
  if (!checked.ok()) {
    // A failed call is the gateway's error, not evidence about the log.
    if (IsRpcError(checked.status())) return checked.status();
    return VerificationFailure(checked.status());
  }
  NDX_RETURN_IF_ERROR(SaveState(state_path, *latest, signed_checkpoint.note()));
  verified.latest = *latest;
  verified.checked = *checked;
  return verified;
}

// The key pinned for `origin` among `keys`, by its name (a log signs under its origin).
const audit::VerifierKey* PinnedKey(const std::vector<audit::VerifierKey>& keys,
                                    const std::string& origin) {
  for (const audit::VerifierKey& key : keys) {
    if (key.name == origin) return &key;
  }
  return nullptr;
}

// `audit verify` of a gateway cluster: every log it lists, each with its pinned key and its own
// trusted state, one line (or JSON object) per log, verified or why not.
absl::Status VerifyCluster(const AuditVerifyOptions& options, const std::string& state_base,
                           const std::vector<audit::VerifierKey>& keys,
                           const v1::ListLogsResponse& listed, GatewayClient& client,
                           CommandContext& context) {
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  std::vector<std::string> failed;      // verification failures: evidence about a log
  std::vector<std::string> unverified;  // logs that could not be checked
  absl::flat_hash_set<std::string> seen;
  auto report = [&](const std::string& log, const std::string& replica_id,
                    const absl::StatusOr<VerifiedLog>& verified, const std::string& state) {
    std::string who = replica_id.empty() ? log : absl::StrCat(log, " (replica ", replica_id, ")");
    if (verified.ok()) {
      const std::string root = Hex(crypto::AsBytes(verified->latest.root));
      results.push_back({{"log", log},
                         {"replica_id", replica_id},
                         {"verified", true},
                         {"old_size", verified->old_size},
                         {"new_size", verified->latest.size},
                         {"root", root},
                         {"consistency", verified->first_run ? "first run" : "ok"},
                         {"entries_checked", verified->checked},
                         {"full", options.full},
                         {"state", state}});
      if (!context.json()) {
        context.out() << who << ": verified up to size " << verified->latest.size << " (from "
                      << verified->old_size << ", "
                      << (verified->first_run ? "first run" : "consistency ok") << ", "
                      << verified->checked << " entries checked" << (options.full ? ", full" : "")
                      << "), root " << root << ", state " << state << '\n';
      }
      return;
    }
    const bool evidence = IsVerificationFailure(verified.status());
    (evidence ? failed : unverified).push_back(log.empty() ? replica_id : log);
    results.push_back({{"log", log},
                       {"replica_id", replica_id},
                       {"verified", false},
                       {"error", std::string(verified.status().message())}});
    if (!context.json()) {
      context.out() << who << ": NOT verified: " << verified.status().message() << '\n';
    }
  };
  for (const v1::AuditLogInfo& info : listed.logs()) {
    if (!options.origin.empty() && info.log() != options.origin) continue;
    seen.insert(info.log());
    const audit::VerifierKey* key = PinnedKey(keys, info.log());
    const std::string state = ClusterStatePath(state_base, info.log());
    if (key == nullptr) {
      report(info.log(), info.replica_id(),
             absl::FailedPreconditionError(
                 "no verifier key pinned for this log: add --key with the key the operator gave "
                 "for it (never the one the gateway lists)"),
             state);
      continue;
    }
    report(info.log(), info.replica_id(), VerifyLog(client, *key, state, info.log(), options),
           state);
  }
  for (const v1::UnavailableLog& missing : listed.unavailable_logs()) {
    if (!options.origin.empty() && missing.log() != options.origin) continue;
    if (!missing.log().empty()) seen.insert(missing.log());
    report(missing.log(), missing.replica_id(),
           absl::UnavailableError(absl::StrCat("unreachable: ", missing.reason())), "");
  }
  for (const audit::VerifierKey& key : keys) {
    if (seen.contains(key.name) || (!options.origin.empty() && key.name != options.origin)) {
      continue;
    }
    report(key.name, "",
           absl::UnavailableError("unreachable: no live replica keeps this log (its key is "
                                  "pinned)"),
           "");
  }
  if (context.json()) context.out() << nlohmann::ordered_json{{"logs", results}}.dump(2) << '\n';
  if (results.empty()) {
    return absl::NotFoundError(absl::StrCat("the cluster lists no log named ", options.origin));
  }
  if (!failed.empty()) {
    return VerificationFailure(absl::DataLossError(
        absl::StrCat("log ", absl::StrJoin(failed, ", "), " failed verification")));
  }
  if (!unverified.empty()) {
    return absl::UnavailableError(
        absl::StrCat(unverified.size(), " of ", results.size(),
                     " logs could not be verified: ", absl::StrJoin(unverified, ", ")));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status AuditVerify(const AuditVerifyOptions& options, const AuditConnector& connect,
                         CommandContext& context) {
  NDX_ASSIGN_OR_RETURN(std::vector<audit::VerifierKey> keys, LoadVerifierKeys(options.keys));
  std::string state_path =
      options.state.empty() ? DefaultAuditStatePath(std::getenv("HOME")) : options.state;
  if (state_path.empty()) return UsageError("--state: $HOME is not set; give --state FILE");

  std::unique_ptr<GatewayClient> holder;
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, Connected(connect, holder));
  // A gateway that lists one log of no replica (or predates ListLogs) is a single gateway: its
  // log is verified as it always was.
  absl::StatusOr<v1::ListLogsResponse> listed =
      client->Call<v1::ListLogsResponse>([&](auto* ctx, auto* out) {
        return client->audit().ListLogs(ctx, v1::ListLogsRequest(), out);
      });
  if (!listed.ok() && listed.status().code() != absl::StatusCode::kUnimplemented) {
    return listed.status();
  }
  const bool cluster =
      listed.ok() && (listed->logs_size() != 1 || !listed->logs(0).replica_id().empty() ||
                      listed->unavailable_logs_size() > 0);
  if (cluster) return VerifyCluster(options, state_path, keys, *listed, *client, context);

  const audit::VerifierKey* key =
      listed.ok() && listed->logs_size() == 1 ? PinnedKey(keys, listed->logs(0).log()) : nullptr;
  NDX_ASSIGN_OR_RETURN(VerifiedLog verified, VerifyLog(*client, key == nullptr ? keys[0] : *key,
                                                       state_path, "", options));
  const std::string root = Hex(crypto::AsBytes(verified.latest.root));
  if (context.json()) {
    nlohmann::ordered_json json = {{"origin", verified.latest.origin},
                                   {"old_size", verified.old_size},
                                   {"new_size", verified.latest.size},
                                   {"root", root},
                                   {"consistency", verified.first_run ? "first run" : "ok"},
                                   {"entries_checked", verified.checked},
                                   {"full", options.full},
                                   {"state", state_path}};
    context.out() << json.dump(2) << '\n';
  } else {
    context.out() << "verified: size " << verified.old_size << " -> " << verified.latest.size
                  << ", "
                  << (verified.first_run ? "first run (no trusted checkpoint before)"
                                         : "consistency ok")
                  << ", " << verified.checked << " entries checked"
                  << (options.full ? " (full)" : "") << "\nroot " << root << " of "
                  << verified.latest.origin << " stored in " << state_path << '\n';
  }
  return absl::OkStatus();
}

absl::Status AuditExport(const AuditExportOptions& options, const AuditConnector& connect,
                         CommandContext& context) {
  if (options.format != "jsonl" && options.format != "bin") {
    return UsageError(absl::StrCat("--format: \"", options.format, "\" is neither jsonl nor bin"));
  }
  if (options.out.empty()) return UsageError("--out: give the file to write");
  std::unique_ptr<GatewayClient> holder;
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, Connected(connect, holder));
  uint64_t end = options.end;
  if (end == 0) {
    NDX_ASSIGN_OR_RETURN(v1::SignedCheckpoint checkpoint,
                         client->Call<v1::SignedCheckpoint>([&](auto* ctx, auto* out) {
                           return client->audit().GetCheckpoint(ctx, v1::GetCheckpointRequest(),
                                                                out);
                         }));
    end = checkpoint.tree_size();
  }
  if (options.start > end) {
    return UsageError(absl::StrCat("--start ", options.start, " is past the end ", end));
  }

  // Written beside the target and renamed at the end, so that a failed export leaves no file
  // that looks complete.
  const std::string partial = options.out + ".partial";
  std::ofstream file(partial, std::ios::binary | std::ios::trunc);
  if (!file) return absl::PermissionDeniedError(absl::StrCat("cannot write ", partial));
  std::error_code error;
  std::filesystem::permissions(
      partial, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, error);
  const bool jsonl = options.format == "jsonl";
  Progress progress(context.err(), end - options.start);
  uint64_t done = 0;
  absl::Status exported = ForEachExported(
      *client, "", options.start, end, [&](const v1::ExportedEntry& entry) -> absl::Status {
        NDX_ASSIGN_OR_RETURN(std::string record, EncodeExported(entry, jsonl));
        file << record;
        if (!file) return absl::DataLossError(absl::StrCat("writing ", partial, " failed"));
        progress.Update(++done);
        return absl::OkStatus();
      });
  file.close();
  if (exported.ok() && !file) {
    exported = absl::DataLossError(absl::StrCat("closing ", partial, " failed"));
  }
  if (exported.ok()) {
    std::filesystem::rename(partial, options.out, error);
    if (error) {
      exported = absl::PermissionDeniedError(
          absl::StrCat("cannot rename ", partial, " to ", options.out, ": ", error.message()));
    }
  }
  if (!exported.ok()) {
    std::filesystem::remove(partial, error);
    return exported;
  }
  progress.Finish(done, absl::StrCat("exported ", done, " entries [", options.start, ", ", end,
                                     ") to ", options.out, " (", options.format, ")"));
  if (context.json()) {
    nlohmann::ordered_json json = {{"file", options.out},
                                   {"format", options.format},
                                   {"start", options.start},
                                   {"end", end},
                                   {"entries", done}};
    context.out() << json.dump(2) << '\n';
  }
  return absl::OkStatus();
}

}  // namespace ndx::cli
