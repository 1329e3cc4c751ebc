#include "audit/checkpointer.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace ndx::audit {
namespace {

// Consistency of the log with a checkpoint signed earlier, checked on the log's own tree.
absl::Status CheckStillConsistent(const AuditLog& log, const Checkpoint& signed_before) {
  uint64_t size = log.size();
  if (size < signed_before.size) {
    return absl::DataLossError(absl::StrCat("the audit log has ", size,
                                            " entries but a checkpoint of ", signed_before.size,
                                            " entries was signed: entries were removed"));
  }
  NDX_ASSIGN_OR_RETURN(Hash root, log.Root(signed_before.size));
  if (root != signed_before.root) {
    return absl::DataLossError(
        absl::StrCat("the audit log's first ", signed_before.size,
                     " entries no longer hash to the signed root: the log was altered"));
  }
  return absl::OkStatus();
}

}  // namespace

Checkpointer::Checkpointer(const AuditLog* log, crypto::SigningKey key, CheckpointerOptions options)
    : log_(log),
      key_(std::move(key)),
      options_(std::move(options)),
      verifier_{options_.key_name, Ed25519KeyId(options_.key_name, key_.public_key()),
                key_.public_key()} {}

absl::StatusOr<std::unique_ptr<Checkpointer>> Checkpointer::Start(const AuditLog* log,
                                                                  crypto::SigningKey key,
                                                                  CheckpointerOptions options) {
  if (options.clock == nullptr) options.clock = &Clock::Real();
  std::unique_ptr<Checkpointer> checkpointer(
      new Checkpointer(log, std::move(key), std::move(options)));
  absl::StatusOr<std::string> note = ReadFile(checkpointer->options_.state_file);
  if (note.ok()) {
    NDX_ASSIGN_OR_RETURN(Checkpoint previous, VerifyCheckpoint(*note, checkpointer->verifier_));
    if (previous.origin != checkpointer->options_.origin) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the last checkpoint in ", checkpointer->options_.state_file, " is of origin \"",
          previous.origin, "\", not \"", checkpointer->options_.origin, "\""));
    }
    NDX_RETURN_IF_ERROR(CheckStillConsistent(*log, previous));
    absl::MutexLock lock(&checkpointer->mutex_);
    checkpointer->latest_ = {*std::move(note), std::move(previous)};
    checkpointer->has_latest_ = true;
  } else if (note.status().code() != absl::StatusCode::kNotFound) {
    return note.status();
  }
  if (checkpointer->options_.interval > absl::ZeroDuration()) {
    checkpointer->thread_ = std::thread([raw = checkpointer.get()] { raw->Loop(); });
  }
  return checkpointer;
}

Checkpointer::~Checkpointer() {
  {
    absl::MutexLock lock(&mutex_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<SignedCheckpoint> Checkpointer::SignLocked() {
  if (has_latest_) NDX_RETURN_IF_ERROR(CheckStillConsistent(*log_, latest_.checkpoint));
  Checkpoint checkpoint;
  checkpoint.origin = options_.origin;
  checkpoint.size = log_->size();
  NDX_ASSIGN_OR_RETURN(checkpoint.root, log_->Root(checkpoint.size));
  checkpoint.time = absl::FromUnixNanos(absl::ToUnixNanos(options_.clock->Now()));
  NDX_ASSIGN_OR_RETURN(std::string note, SignCheckpoint(checkpoint, options_.key_name, key_));
  NDX_RETURN_IF_ERROR(WriteFileAtomically(options_.state_file, note, 0600));
  latest_ = {std::move(note), std::move(checkpoint)};
  has_latest_ = true;
  return latest_;
}

absl::StatusOr<SignedCheckpoint> Checkpointer::SignNow() {
  absl::MutexLock lock(&mutex_);
  return SignLocked();
}

absl::StatusOr<SignedCheckpoint> Checkpointer::Latest() const {
  absl::MutexLock lock(&mutex_);
  if (!has_latest_) return absl::NotFoundError("no checkpoint has been signed yet");
  return latest_;
}

std::string Checkpointer::VerifierKeyText() const {
  return FormatVerifierKey(options_.key_name, key_.public_key());
}

void Checkpointer::Loop() {
  absl::MutexLock lock(&mutex_);
  while (true) {
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return stopping_; };
    mutex_.AwaitWithTimeout(absl::Condition(&stopping), options_.interval);
    if (stopping_) return;
    if (has_latest_ && latest_.checkpoint.size == log_->size()) continue;
    absl::StatusOr<SignedCheckpoint> signed_now = SignLocked();
    if (!signed_now.ok()) {
      spdlog::error("cannot sign an audit checkpoint: {}", signed_now.status().ToString());
    }
  }
}

}  // namespace ndx::audit
