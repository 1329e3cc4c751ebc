#include "gateway/audit_fanout.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/hash.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace ndx::gateway {
namespace {

absl::Time EntryTime(const v1::AuditEntry& entry) {
  return absl::FromUnixSeconds(entry.time().seconds()) + absl::Nanoseconds(entry.time().nanos());
}

absl::Status NotValid(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("page_token is not valid (", why,
                   "): pass back the next_page_token of the previous page unchanged, with the "
                   "same filters; or an empty token for the first page"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditPeers>> AuditPeers::Create(AuditPeersOptions options) {
  if (options.membership == nullptr) {
    return absl::InvalidArgumentError("the audit peers of a cluster need its membership");
  }
  if (!options.gateway_identity.has_value() || !options.gateway_identity->is_gateway()) {
    return absl::InvalidArgumentError(
        "the audit peers of a cluster need the gateway identity the replicas present");
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      crypto::MakeChannelCredentials(options.tls, options.gateway_identity);
  if (!credentials.ok()) return credentials.status();
  return std::unique_ptr<AuditPeers>(new AuditPeers(std::move(options), *std::move(credentials)));
}

std::vector<cluster::Member> AuditPeers::Others() const {
  std::vector<cluster::Member> others;
  for (cluster::Member& member : options_.membership->Members()) {
    if (member.replica_id != self().replica_id) others.push_back(std::move(member));
  }
  std::sort(others.begin(), others.end(), [](const cluster::Member& a, const cluster::Member& b) {
    return a.replica_id < b.replica_id;
  });
  return others;
}

bool AuditPeers::IsLive(const std::string& replica_id) const {
  for (const cluster::Member& member : options_.membership->Members()) {
    if (member.replica_id == replica_id) return true;
  }
  return false;
}

absl::Time AuditPeers::Deadline(absl::Time caller_deadline) const {
  return std::min(caller_deadline, absl::Now() + options_.timeout);
}

void AuditPeers::Prepare(grpc::ClientContext& context, const std::string& auditor,
                         absl::Time deadline) {
  context.AddMetadata(kActingForMetadata, auditor);
  if (deadline != absl::InfiniteFuture()) context.set_deadline(absl::ToChronoTime(deadline));
}

absl::StatusOr<v1::Audit::Stub*> AuditPeers::Stub(const std::string& address) {
  absl::MutexLock lock(&mutex_);
  std::unique_ptr<v1::Audit::Stub>& stub = stubs_[address];
  if (stub == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(options_.max_message_bytes);
    args.SetMaxSendMessageSize(options_.max_message_bytes);
    // A replica that comes back should be asked at once, not after minutes of backoff.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    args.SetInt(GRPC_ARG_ENABLE_CHANNELZ, 0);
    stub = v1::Audit::NewStub(grpc::CreateCustomChannel(address, credentials_, args));
  }
  return stub.get();
}

void AuditPeers::Learn(const std::string& replica_id, const std::string& log) {
  if (replica_id.empty() || log.empty()) return;
  absl::MutexLock lock(&mutex_);
  logs_[replica_id] = log;
}

std::string AuditPeers::KnownLog(const std::string& replica_id) const {
  absl::MutexLock lock(&mutex_);
  auto it = logs_.find(replica_id);
  return it == logs_.end() ? "" : it->second;
}

std::optional<cluster::Member> AuditPeers::FindLog(const std::string& log) const {
  std::vector<cluster::Member> others = Others();
  absl::MutexLock lock(&mutex_);
  for (cluster::Member& member : others) {
    auto it = logs_.find(member.replica_id);
    if (it != logs_.end() && it->second == log) return std::move(member);
  }
  return std::nullopt;
}

std::string UnavailableReason(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message());
}

int LogPageSize(const v1::AuditPageToken::Cursor& cursor, int page_size) {
  return static_cast<int>(std::min<uint64_t>(1000, uint64_t{cursor.skip()} + page_size));
}

MergedPage MergeLogPages(const std::vector<LogPage>& pages,
                         const std::vector<v1::AuditPageToken::Cursor>& cursors, int page_size) {
  MergedPage merged;
  std::vector<size_t> next(pages.size());
  for (size_t i = 0; i < pages.size(); ++i) {
    next[i] = std::min<size_t>(cursors[i].skip(), pages[i].entries.size());
  }
  while (merged.entries.size() < static_cast<size_t>(page_size)) {
    std::optional<size_t> newest;
    bool blind = false;
    for (size_t i = 0; i < pages.size(); ++i) {
      if (next[i] == pages[i].entries.size()) {
        // This log's next entry is on a page not read yet: it may be newer than any candidate.
        if (!pages[i].next_token.empty()) blind = true;
        continue;
      }
      // Newest time first; at the same time, the smaller origin.
      if (!newest.has_value() ||
          std::make_tuple(EntryTime(pages[*newest].entries[next[*newest]]), pages[i].log) <
              std::make_tuple(EntryTime(pages[i].entries[next[i]]), pages[*newest].log)) {
        newest = i;
      }
    }
    if (blind || !newest.has_value()) break;
    merged.entries.emplace_back(pages[*newest].entries[next[*newest]], pages[*newest].log);
    ++next[*newest];
  }
  for (size_t i = 0; i < pages.size(); ++i) {
    v1::AuditPageToken::Cursor cursor;
    cursor.set_replica_id(pages[i].replica_id);
    cursor.set_log(pages[i].log);
    cursor.set_size(pages[i].size);
    if (next[i] < pages[i].entries.size()) {
      // The rest of the same page comes first next time: read again from the same token and
      // bound, it holds the same entries.
      cursor.set_token(cursors[i].token());
      cursor.set_skip(static_cast<uint32_t>(next[i]));
    } else if (!pages[i].next_token.empty()) {
      cursor.set_token(pages[i].next_token);
    } else {
      cursor.set_done(true);
    }
    merged.more = merged.more || !cursor.done();
    merged.cursors.push_back(std::move(cursor));
  }
  return merged;
}

std::string QueryFingerprint(const v1::QueryEntriesRequest& request) {
  v1::QueryEntriesRequest filters = request;
  filters.clear_page_size();
  filters.clear_page_token();
  filters.clear_below_sequence();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    filters.SerializeToCodedStream(&coded);
  }
  crypto::Sha256Digest digest = crypto::Sha256(bytes);
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

std::string EncodePageToken(const v1::AuditPageToken& token) {
  std::string bytes;
  token.SerializeToString(&bytes);
  return absl::WebSafeBase64Escape(bytes);
}

absl::StatusOr<v1::AuditPageToken> DecodePageToken(const std::string& text,
                                                   const std::string& query) {
  std::string bytes;
  v1::AuditPageToken token;
  if (!absl::WebSafeBase64Unescape(text, &bytes) || !token.ParseFromString(bytes)) {
    return NotValid("not a page token of this gateway cluster");
  }
  if (token.query() != query) return NotValid("it continues another query");
  return token;
}

}  // namespace ndx::gateway
