#include "cli/events_commands.h"

#include <fcntl.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/client_callback.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "cli/cli_status.h"
#include "cli/table.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "crypto/certificate_expiry.h"

extern char** environ;

namespace ndx::cli {
namespace {

constexpr absl::Duration kInitialBackoff = absl::Milliseconds(200);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
// How long a handler's death by SIGINT or SIGTERM waits for ndxctl's own stop signal.
constexpr absl::Duration kStopSignalGrace = absl::Milliseconds(200);

std::string OrDash(std::string text) { return text.empty() ? "-" : text; }

// --- the subscription stream -------------------------------------------------------------------

// One Subscribe call, read with blocking calls from one thread. It uses gRPC's callback API
// rather than the synchronous ClientReader because only the callback API tells initial metadata
// (the gateway made the subscription durable) from a call refused at once (a trailers-only
// response): ClientReader::WaitForInitialMetadata returns the same way for both.
// Thread-safe: Cancel() may be called from any thread, the rest from one thread.
class SubscriptionStream final : public grpc::ClientReadReactor<v1::SubscribeResponse> {
 public:
  explicit SubscriptionStream(v1::SubscribeRequest request) : request_(std::move(request)) {}

  // Cancels the call if it is still open and waits until gRPC is done with it.
  ~SubscriptionStream() override {
    if (!started_) return;
    context_.TryCancel();
    ReleaseHold();
    done_.WaitForNotification();
  }

  SubscriptionStream(const SubscriptionStream&) = delete;
  SubscriptionStream& operator=(const SubscriptionStream&) = delete;

  // Starts the call. The stream has no deadline: it stays open until the gateway ends it or
  // Cancel() is called.
  absl::Status Start(v1::Events::StubInterface& stub) {
    v1::Events::StubInterface::async_interface* async = stub.async();
    if (async == nullptr) return absl::InternalError("the Events stub has no callback interface");
    async->Subscribe(&context_, &request_, this);
    // Reads are started from this thread, outside gRPC's reactions: the hold keeps OnDone (after
    // which no read may start) from running until ReleaseHold.
    AddHold();
    StartCall();
    started_ = true;
    return absl::OkStatus();
  }

  // Blocks until the initial metadata arrived (true) or the call failed without it (false).
  bool WaitForInitialMetadata() {
    absl::MutexLock lock(&mutex_);
    mutex_.Await(absl::Condition(&metadata_done_));
    return subscribed_;
  }

  // Blocks for the next item; false once the stream has ended (Finish() tells how).
  bool Read(v1::SubscribeResponse* item) {
    {
      absl::MutexLock lock(&mutex_);
      if (ended_) return false;
      read_done_ = false;
    }
    StartRead(item);
    absl::MutexLock lock(&mutex_);
    mutex_.Await(absl::Condition(&read_done_));
    if (!read_ok_) ended_ = true;
    return read_ok_;
  }

  // Ends the call (if still open); its status will then be CANCELLED.
  void Cancel() { context_.TryCancel(); }

  // Blocks until the call is over and returns its status. No Read() after it.
  grpc::Status Finish() {
    {
      absl::MutexLock lock(&mutex_);
      ended_ = true;
    }
    ReleaseHold();
    done_.WaitForNotification();
    absl::MutexLock lock(&mutex_);
    return status_;
  }

  void OnReadInitialMetadataDone(bool ok) override {
    absl::MutexLock lock(&mutex_);
    metadata_done_ = true;
    subscribed_ = ok;
  }

  void OnReadDone(bool ok) override {
    absl::MutexLock lock(&mutex_);
    read_done_ = true;
    read_ok_ = ok;
  }

  void OnDone(const grpc::Status& status) override {
    {
      absl::MutexLock lock(&mutex_);
      status_ = status;
    }
    done_.Notify();
  }

 private:
  void ReleaseHold() {
    if (hold_released_) return;
    hold_released_ = true;
    RemoveHold();
  }

  grpc::ClientContext context_;
  const v1::SubscribeRequest request_;
  // Touched by the reading thread only.
  bool started_ = false;
  bool hold_released_ = false;

  absl::Mutex mutex_;
  bool metadata_done_ ABSL_GUARDED_BY(mutex_) = false;
  bool subscribed_ ABSL_GUARDED_BY(mutex_) = false;
  bool read_done_ ABSL_GUARDED_BY(mutex_) = false;
  bool read_ok_ ABSL_GUARDED_BY(mutex_) = false;
  bool ended_ ABSL_GUARDED_BY(mutex_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mutex_);
  absl::Notification done_;
};

// --- stopping on SIGINT and SIGTERM -------------------------------------------------------------

// Takes SIGINT and SIGTERM for its lifetime: blocks them in the constructing thread (so in the
// threads started afterwards, gRPC's too) and waits for them with sigwait in a thread of its own,
// which then cancels the stream being read and wakes a pending pause. The signal mask is put back
// on destruction. Thread-safe.
class SignalStop {
 public:
  SignalStop() {
    pthread_sigmask(SIG_SETMASK, nullptr, &original_mask_);
    signals_.emplace();
    waiter_ = std::thread([this] { WaitForSignal(); });
  }

  ~SignalStop() {
    bool wake_waiter;
    {
      absl::MutexLock lock(&mutex_);
      finished_ = true;
      wake_waiter = !stopping_;
    }
    // The waiter sits in sigwait: a signal sent to that thread alone ends it. Had a real signal
    // just been taken, this one is discarded with the exiting thread.
    if (wake_waiter) pthread_kill(waiter_.native_handle(), SIGTERM);
    waiter_.join();
    pthread_sigmask(SIG_SETMASK, &original_mask_, nullptr);
  }

  SignalStop(const SignalStop&) = delete;
  SignalStop& operator=(const SignalStop&) = delete;

  // The mask the process had before: the one a handler process gets.
  const sigset_t& original_mask() const { return original_mask_; }

  bool stopping() const {
    absl::MutexLock lock(&mutex_);
    return stopping_;
  }

  // Has a signal cancel `stream` until Unwatch(). False when a signal came already.
  bool Watch(SubscriptionStream* stream) {
    absl::MutexLock lock(&mutex_);
    if (stopping_) return false;
    watched_ = stream;
    return true;
  }

  void Unwatch() {
    absl::MutexLock lock(&mutex_);
    watched_ = nullptr;
  }

  // Waits for `pause` or until a signal comes; true when a signal came.
  bool SleepUnlessStopped(absl::Duration pause) {
    absl::MutexLock lock(&mutex_);
    mutex_.AwaitWithTimeout(absl::Condition(&stopping_), pause);
    return stopping_;
  }

 private:
  void WaitForSignal() {
    signals_->Wait();
    absl::MutexLock lock(&mutex_);
    if (finished_) return;
    stopping_ = true;
    if (watched_ != nullptr) watched_->Cancel();
  }

  sigset_t original_mask_;
  std::optional<StopSignals> signals_;
  std::thread waiter_;
  mutable absl::Mutex mutex_;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  SubscriptionStream* watched_ ABSL_GUARDED_BY(mutex_) = nullptr;
};

// Unwatches a stream before it is destroyed.
class WatchScope {
 public:
  explicit WatchScope(SignalStop& stop) : stop_(stop) {}
  ~WatchScope() { stop_.Unwatch(); }
  WatchScope(const WatchScope&) = delete;
  WatchScope& operator=(const WatchScope&) = delete;

 private:
  SignalStop& stop_;
};

// --- the handler --------------------------------------------------------------------------------

// The environment of the handler: ours, with NDX_EVENT_* set to the event.
std::vector<std::string> HandlerEnvironment(const v1::Event& event) {
  const std::pair<const char*, std::string> variables[] = {
      {"NDX_EVENT_DATASET", event.dataset()},
      {"NDX_EVENT_SEQUENCE", absl::StrCat(event.sequence())},
      {"NDX_EVENT_KEY", event.key()},
      {"NDX_EVENT_TYPE", event.type()},
      {"NDX_EVENT_PUBLISHER", event.publisher()},
      {"NDX_EVENT_PUBLISHED_AT", FormatTimestamp(event.published_at())},
  };
  std::vector<std::string> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    bool replaced = false;
    for (const auto& [name, value] : variables) {
      replaced = replaced || absl::StartsWith(*entry, absl::StrCat(name, "="));
    }
    if (!replaced) environment.emplace_back(*entry);
  }
  for (const auto& [name, value] : variables) environment.push_back(absl::StrCat(name, "=", value));
  return environment;
}

// Runs `/bin/sh -c command` for `event` with stdin from /dev/null, stdout and stderr ours, and
// `signal_mask`; waits for it and returns its wait status.
absl::StatusOr<int> RunHandler(const std::string& command, const v1::Event& event,
                               const sigset_t& signal_mask) {
  std::vector<std::string> environment = HandlerEnvironment(event);
  std::vector<char*> envp;
  for (std::string& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string shell = "sh", dash_c = "-c", script = command;
  char* argv[] = {shell.data(), dash_c.data(), script.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // The handler gets the mask ndxctl started with (not the one blocking SIGINT and SIGTERM for
  // sigwait) and default dispositions, so that Ctrl-C and `kill` reach it as usual.
  posix_spawnattr_setsigmask(&attributes, &signal_mask);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return absl::InternalError(absl::StrCat("cannot run /bin/sh: ", std::strerror(spawned)));
  }
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(absl::StrCat("waiting for the handler: ", std::strerror(errno)));
    }
  }
  return wait_status;
}

// "exited with status N" or "was killed by signal N".
std::string DescribeWaitStatus(int wait_status) {
  if (WIFSIGNALED(wait_status)) return absl::StrCat("was killed by signal ", WTERMSIG(wait_status));
  return absl::StrCat("exited with status ", WEXITSTATUS(wait_status));
}

// Whether a handler died of SIGINT or SIGTERM, or is a shell reporting that of its command
// (exit status 128 + signal).
bool DiedOfStopSignal(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    return WTERMSIG(wait_status) == SIGINT || WTERMSIG(wait_status) == SIGTERM;
  }
  return WIFEXITED(wait_status) &&
         (WEXITSTATUS(wait_status) == 128 + SIGINT || WEXITSTATUS(wait_status) == 128 + SIGTERM);
}

// --- events subscribe ---------------------------------------------------------------------------

// How one stream ended, when the command goes on.
enum class StreamEnd {
  kDone,  // --count reached or a signal came: the command is over
  kLost,  // the stream or an Ack failed with UNAVAILABLE: subscribe again
};

// The subscribe loop of one command run. Thread-compatible (one thread runs it; SignalStop's
// thread only cancels).
class Subscriber {
 public:
  Subscriber(const SubscribeOptions& options, CommandContext& context, GatewayClient& client,
             SignalStop& stop)
      : options_(options), context_(context), client_(client), stop_(stop) {
    request_.set_dataset(options.dataset);
    request_.set_purpose(options.purpose);
    request_.set_max_unacknowledged(options.max_unacknowledged);
  }

  absl::Status Run() {
    absl::Duration backoff = kInitialBackoff;
    while (true) {
      bool subscribed = false;
      std::string lost;
      NDX_ASSIGN_OR_RETURN(StreamEnd end, RunStream(&subscribed, &lost));
      if (end == StreamEnd::kDone) return absl::OkStatus();
      if (subscribed) backoff = kInitialBackoff;
      context_.err() << "ndxctl: warning: " << lost << "; subscribing again in "
                     << absl::FormatDuration(backoff) << std::endl;
      if (stop_.SleepUnlessStopped(backoff)) return absl::OkStatus();
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

 private:
  // Opens one stream and handles its items until it ends. `subscribed`: the gateway accepted the
  // subscription; `lost`: why the stream is to be opened again (with kLost).
  absl::StatusOr<StreamEnd> RunStream(bool* subscribed, std::string* lost) {
    SubscriptionStream stream(request_);
    NDX_RETURN_IF_ERROR(stream.Start(client_.events()));
    // Watched once started, so that a signal either cancels the call or is seen here.
    if (!stop_.Watch(&stream)) return StreamEnd::kDone;
    WatchScope watching(stop_);
    if (stream.WaitForInitialMetadata()) {
      *subscribed = true;
      context_.err() << "ndxctl: subscribed to " << options_.dataset << " (purpose "
                     << options_.purpose << ")" << std::endl;
    }
    v1::SubscribeResponse item;
    while (stream.Read(&item)) {
      std::optional<StreamEnd> end;
      if (item.has_event()) {
        NDX_ASSIGN_OR_RETURN(end, HandleEvent(item.event(), lost));
      } else if (item.has_expired()) {
        NDX_ASSIGN_OR_RETURN(end, HandleExpired(item.expired(), lost));
      }
      // An item of a kind this ndxctl does not know (from a newer gateway) is left alone.
      if (end.has_value()) return *end;  // the stream's destructor cancels it
    }
    if (stop_.stopping()) return StreamEnd::kDone;
    grpc::Status status = stream.Finish();
    // A stream ending without an error is no refusal either: the subscription is durable, so it
    // is resumed like one the gateway lost.
    if (status.ok() || status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      const std::string why = status.ok() ? "closed by the gateway" : FormatStatus(status);
      *lost = *subscribed
                  ? absl::StrCat("the event stream of ", options_.dataset, " ended (", why, ")")
                  : absl::StrCat("cannot subscribe to ", options_.dataset, " (", why, ")");
      return StreamEnd::kLost;
    }
    return RpcError(status);
  }

  // nullopt: go on reading.
  absl::StatusOr<std::optional<StreamEnd>> HandleEvent(const v1::Event& event, std::string* lost) {
    if (options_.exec.empty()) {
      NDX_RETURN_IF_ERROR(PrintEvent(event));
    } else {
      context_.out().flush();
      NDX_ASSIGN_OR_RETURN(int wait_status,
                           RunHandler(options_.exec, event, stop_.original_mask()));
      if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
        // A Ctrl-C reaches the handler (same process group) and ndxctl's signal thread at once;
        // the handler may be reaped first. Its death by that signal is no failure of its own.
        if (DiedOfStopSignal(wait_status)) stop_.SleepUnlessStopped(kStopSignalGrace);
        std::string message = absl::StrCat("handler ", DescribeWaitStatus(wait_status),
                                           " on event ", event.dataset(), " #", event.sequence(),
                                           "; it was not acknowledged and will be delivered again");
        // Stopping: the handler most likely died of the same Ctrl-C; the stop is what was asked.
        if (!stop_.stopping()) return HandlerFailure(message);
        context_.err() << "ndxctl: " << message << std::endl;
        return StreamEnd::kDone;
      }
    }
    NDX_ASSIGN_OR_RETURN(bool acknowledged, Ack(event.sequence(), lost));
    if (!acknowledged) return StreamEnd::kLost;
    ++handled_;
    if (options_.count > 0 && handled_ >= options_.count) return StreamEnd::kDone;
    if (stop_.stopping()) return StreamEnd::kDone;
    return std::nullopt;
  }

  absl::StatusOr<std::optional<StreamEnd>> HandleExpired(const v1::EventsExpired& expired,
                                                         std::string* lost) {
    context_.err() << "ndxctl: events " << expired.first_sequence() << ".."
                   << expired.last_sequence() << " of " << expired.dataset()
                   << " expired before they were acknowledged (retention "
                   << expired.retention_seconds() << " s)" << std::endl;
    NDX_ASSIGN_OR_RETURN(bool acknowledged, Ack(expired.last_sequence(), lost));
    if (!acknowledged) return StreamEnd::kLost;
    if (stop_.stopping()) return StreamEnd::kDone;
    return std::nullopt;
  }

  absl::Status PrintEvent(const v1::Event& event) {
    if (context_.json()) {
      NDX_ASSIGN_OR_RETURN(std::string json, MessageToJson(event, /*pretty=*/false));
      context_.out() << json << '\n';
    } else {
      context_.out() << event.sequence() << ' ' << OrDash(FormatTimestamp(event.published_at()))
                     << ' ' << event.type() << ' ' << event.key() << '\n';
    }
    // A pipe reader sees each event as it comes, not when a buffer fills.
    context_.out().flush();
    return absl::OkStatus();
  }

  // True once acknowledged; false when the gateway is UNAVAILABLE (`lost` says so): the events
  // since the last acknowledged one are delivered again on the next stream.
  absl::StatusOr<bool> Ack(uint64_t sequence, std::string* lost) {
    v1::AckRequest request;
    request.set_dataset(options_.dataset);
    request.set_sequence(sequence);
    absl::StatusOr<v1::AckResponse> response = client_.Call<v1::AckResponse>(
        [&](auto* call, auto* out) { return client_.events().Ack(call, request, out); });
    if (response.ok()) return true;
    if (response.status().code() != absl::StatusCode::kUnavailable) return response.status();
    *lost = absl::StrCat("acknowledging ", options_.dataset, " #", sequence, " failed (",
                         absl::StatusCodeToString(response.status().code()), ": ",
                         response.status().message(), ")");
    return false;
  }

  static std::string FormatStatus(const grpc::Status& status) {
    return absl::StrCat(
        absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())), ": ",
        status.error_message());
  }

  const SubscribeOptions& options_;
  CommandContext& context_;
  GatewayClient& client_;
  SignalStop& stop_;
  v1::SubscribeRequest request_;
  uint64_t handled_ = 0;
};

}  // namespace

absl::Status EventsPublish(const PublishOptions& options, CommandContext& context) {
  v1::PublishRequest request;
  request.set_dataset(options.dataset);
  request.set_key(options.key);
  request.set_type(options.type);
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::PublishResponse response,
                       client->Call<v1::PublishResponse>([&](auto* call, auto* out) {
                         return client->events().Publish(call, request, out);
                       }));
  if (context.json()) return PrintMessageJson(context.out(), response);
  const v1::Event& event = response.event();
  context.out() << "published " << event.dataset() << " #" << event.sequence() << ' '
                << event.type() << ' ' << event.key() << " to " << response.subscriptions()
                << " subscriptions\n";
  return absl::OkStatus();
}

absl::Status EventsSubscribe(const SubscribeOptions& options, CommandContext& context) {
  if (options.max_unacknowledged > 1000) {
    return UsageError("--max-unacknowledged: at most 1000");
  }
  // Before connecting: the threads gRPC starts must inherit the blocked signals.
  SignalStop stop;
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  // A subscriber runs for months: its certificate's approaching end must show in its log.
  std::optional<crypto::CertificateExpiryMonitor> expiry;
  if (!client->tls().cert_file.empty()) expiry.emplace(client->tls());
  Subscriber subscriber(options, context, *client, stop);
  return subscriber.Run();
}

absl::Status EventsAck(const AckOptions& options, CommandContext& context) {
  v1::AckRequest request;
  request.set_dataset(options.dataset);
  request.set_sequence(options.sequence);
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::AckResponse response,
                       client->Call<v1::AckResponse>([&](auto* call, auto* out) {
                         return client->events().Ack(call, request, out);
                       }));
  if (context.json()) return PrintMessageJson(context.out(), response);
  context.out() << "acknowledged " << options.dataset << " up to #"
                << response.acknowledged_sequence() << '\n';
  return absl::OkStatus();
}

absl::Status EventsSubscriptions(const std::string& dataset, CommandContext& context) {
  v1::ListSubscriptionsRequest request;
  request.set_dataset(dataset);
  NDX_ASSIGN_OR_RETURN(GatewayClient * client, context.client());
  NDX_ASSIGN_OR_RETURN(v1::ListSubscriptionsResponse response,
                       client->Call<v1::ListSubscriptionsResponse>([&](auto* call, auto* out) {
                         return client->events().ListSubscriptions(call, request, out);
                       }));
  if (context.json()) return PrintMessageJson(context.out(), response);
  Table table({"SUBSCRIBER", "DATASET", "PURPOSE", "ACKED", "HEAD", "PENDING", "EXPIRED",
               "CONNECTED", "GRANT"});
  for (const v1::Subscription& s : response.subscriptions()) {
    const uint64_t pending = s.head_sequence() > s.acknowledged_sequence()
                                 ? s.head_sequence() - s.acknowledged_sequence()
                                 : 0;
    table.AddRow({s.subscriber(), s.dataset(), s.purpose(), absl::StrCat(s.acknowledged_sequence()),
                  absl::StrCat(s.head_sequence()), absl::StrCat(pending),
                  absl::StrCat(s.expired_events()), s.connected() ? "yes" : "no", s.grant_id()});
  }
  table.Print(context.out());
  return absl::OkStatus();
}

}  // namespace ndx::cli
