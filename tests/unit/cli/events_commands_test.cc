// `ndxctl events ...` against the fake gateway's Events service over real mTLS: what the commands
// send and print, how `subscribe` acknowledges, runs its handler, resumes and stops; and, running
// the ndxctl binary itself, how it stops on SIGTERM.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli_runner.h"
#include "common/files.h"
#include "fake_gateway.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"

extern char** environ;

namespace ndx::cli {
namespace {

using ::ndx::testing::TempDir;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kConsumer[] = "moh/insurance";
constexpr char kSubscribed[] =
    "ndxctl: subscribed to mops/residents (purpose health-insurance-enrolment)\n";

std::vector<uint64_t> Sequences(const std::vector<v1::AckRequest>& acks) {
  std::vector<uint64_t> sequences;
  for (const v1::AckRequest& ack : acks) {
    EXPECT_EQ(ack.dataset(), kEventsDataset);
    sequences.push_back(ack.sequence());
  }
  return sequences;
}

std::string ReadOrEmpty(const std::string& path) { return ReadFile(path).value_or(""); }

class EventsCommandsTest : public ::testing::Test {
 protected:
  // ndxctl <connection flags as `as`> <args...>
  CliResult Run(const std::vector<std::string>& args, const std::string& as = kConsumer) {
    std::vector<std::string> all = gateway_.FlagsAs(as);
    all.insert(all.end(), args.begin(), args.end());
    return RunNdxctl(all);
  }

  // ndxctl events subscribe mops/residents --purpose P <args...>
  CliResult Subscribe(const std::vector<std::string>& args,
                      const std::string& purpose = "health-insurance-enrolment") {
    std::vector<std::string> all = {"events", "subscribe", kEventsDataset, "--purpose", purpose};
    all.insert(all.end(), args.begin(), args.end());
    return Run(all);
  }

  // True once the fake has no Subscribe stream open, within a few seconds.
  bool StreamsClosed() {
    for (int i = 0; i < 500 && gateway_.open_event_streams() > 0; ++i)
      absl::SleepFor(absl::Milliseconds(10));
    return gateway_.open_event_streams() == 0;
  }

  testing::TestPki pki_;
  FakeGateway gateway_{pki_};
};

// --- publish ----------------------------------------------------------------------------------

TEST_F(EventsCommandsTest, PublishPrintsTheEvent) {
  CliResult result =
      Run({"events", "publish", "mops/residents", "B-2026-0001", "--type", "birth.registered"},
          "mops/population");
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(result.out,
            "published mops/residents #1 birth.registered B-2026-0001 to 2 subscriptions\n");
  EXPECT_THAT(result.err, IsEmpty());
  ASSERT_EQ(gateway_.publish_requests().size(), 1u);
  v1::PublishRequest sent = gateway_.publish_requests()[0];
  EXPECT_EQ(sent.dataset(), "mops/residents");
  EXPECT_EQ(sent.key(), "B-2026-0001");
  EXPECT_EQ(sent.type(), "birth.registered");
}

TEST_F(EventsCommandsTest, PublishJsonIsTheResponse) {
  gateway_.AppendEvents(2);
  CliResult result = Run(
      {"events", "publish", "mops/residents", "B-9", "--type", "birth.amended", "--output", "json"},
      "mops/population");
  ASSERT_EQ(result.exit_code, 0) << result;
  nlohmann::ordered_json json = ParseJson(result.out);
  EXPECT_EQ(json["subscriptions"], 2);
  EXPECT_EQ(json["event"]["dataset"], "mops/residents");
  EXPECT_EQ(json["event"]["sequence"], "3");  // uint64 is a JSON string in protobuf's mapping
  EXPECT_EQ(json["event"]["key"], "B-9");
  EXPECT_EQ(json["event"]["type"], "birth.amended");
  EXPECT_EQ(json["event"]["publisher"], "mops/population");
  EXPECT_EQ(json["event"]["published_at"], "2026-01-01T00:03:00Z");
}

TEST_F(EventsCommandsTest, PublishOnAnUnknownDatasetIsExitFifteen) {
  CliResult result =
      Run({"events", "publish", "mops/unknown", "K", "--type", "x"}, "mops/population");
  EXPECT_EQ(result.exit_code, 15) << result;
  EXPECT_EQ(result.err, "ndxctl: NOT_FOUND: dataset mops/unknown is not registered\n");
}

// --- subscribe --------------------------------------------------------------------------------

TEST_F(EventsCommandsTest, SubscribePrintsEachEventThenAcknowledgesIt) {
  gateway_.AppendEvents(3);
  CliResult result = Subscribe({"--count", "3", "--max-unacknowledged", "10"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(result.out,
            "1 2026-01-01T00:01:00Z birth.registered B-1\n"
            "2 2026-01-01T00:02:00Z birth.registered B-2\n"
            "3 2026-01-01T00:03:00Z birth.registered B-3\n");
  EXPECT_EQ(result.err, kSubscribed);
  EXPECT_THAT(Sequences(gateway_.event_acks()), ElementsAre(1, 2, 3));
  ASSERT_EQ(gateway_.subscribe_requests().size(), 1u);
  v1::SubscribeRequest sent = gateway_.subscribe_requests()[0];
  EXPECT_EQ(sent.dataset(), "mops/residents");
  EXPECT_EQ(sent.purpose(), "health-insurance-enrolment");
  EXPECT_EQ(sent.max_unacknowledged(), 10u);
  // Done with its count, ndxctl cancelled the stream rather than leaving it to the gateway.
  EXPECT_TRUE(StreamsClosed());
}

TEST_F(EventsCommandsTest, SubscribeJsonPrintsOneEventObjectPerLine) {
  gateway_.AppendEvents(2);
  CliResult result = Subscribe({"--count", "2", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  std::vector<std::string> lines = absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << result;
  for (int i = 0; i < 2; ++i) {
    nlohmann::ordered_json event = ParseJson(lines[i]);
    EXPECT_EQ(event["dataset"], "mops/residents");
    EXPECT_EQ(event["sequence"], absl::StrCat(i + 1));
    EXPECT_EQ(event["key"], absl::StrCat("B-", i + 1));
    EXPECT_EQ(event["type"], "birth.registered");
    EXPECT_EQ(event["publisher"], "mops/population");
  }
  EXPECT_THAT(Sequences(gateway_.event_acks()), ElementsAre(1, 2));
}

TEST_F(EventsCommandsTest, CountStopsOnceThatManyEventsWereAcknowledged) {
  gateway_.AppendEvents(5);
  CliResult result = Subscribe({"--count", "2"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(result.out,
            "1 2026-01-01T00:01:00Z birth.registered B-1\n"
            "2 2026-01-01T00:02:00Z birth.registered B-2\n");
  EXPECT_THAT(Sequences(gateway_.event_acks()), ElementsAre(1, 2));
  EXPECT_TRUE(StreamsClosed());
}

TEST_F(EventsCommandsTest, ExecRunsTheHandlerWithTheEventInItsEnvironment) {
  TempDir dir;
  const std::string seen = dir.Join("seen.txt");
  gateway_.AppendEvents(2);
  CliResult result = Subscribe(
      {"--count", "2", "--exec",
       absl::StrCat("printf '%s|%s|%s|%s|%s|%s|%s\\n' \"$NDX_EVENT_DATASET\" "
                    "\"$NDX_EVENT_SEQUENCE\" \"$NDX_EVENT_KEY\" \"$NDX_EVENT_TYPE\" "
                    "\"$NDX_EVENT_PUBLISHER\" \"$NDX_EVENT_PUBLISHED_AT\" \"$(cat)\" >> '",
                    seen, "'")});
  ASSERT_EQ(result.exit_code, 0) << result;
  // The last field is what the handler read on stdin: nothing (/dev/null).
  EXPECT_EQ(ReadOrEmpty(seen),
            "mops/residents|1|B-1|birth.registered|mops/population|2026-01-01T00:01:00Z|\n"
            "mops/residents|2|B-2|birth.registered|mops/population|2026-01-01T00:02:00Z|\n");
  // With a handler, ndxctl prints no event itself.
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_EQ(result.err, kSubscribed);
  EXPECT_THAT(Sequences(gateway_.event_acks()), ElementsAre(1, 2));
}

TEST_F(EventsCommandsTest, FailingHandlerIsExitFiveAndItsEventIsDeliveredAgain) {
  TempDir dir;
  const std::string seen = dir.Join("seen.txt");
  gateway_.AppendEvents(3);
  CliResult result =
      Subscribe({"--exec", absl::StrCat("echo \"$NDX_EVENT_SEQUENCE\" >> '", seen,
                                        "'; test \"$NDX_EVENT_SEQUENCE\" != 2 || exit 3")});
  EXPECT_EQ(result.exit_code, 5) << result;
  EXPECT_EQ(ReadOrEmpty(seen), "1\n2\n");
  EXPECT_THAT(result.err,
              HasSubstr("handler exited with status 3 on event mops/residents #2; it was not "
                        "acknowledged and will be delivered again\n"));
  EXPECT_THAT(Sequences(gateway_.event_acks()), ElementsAre(1));
  EXPECT_TRUE(StreamsClosed());

  // The next subscribe starts again at the event the handler failed on.
  result = Subscribe(
      {"--count", "2", "--exec", absl::StrCat("echo \"$NDX_EVENT_SEQUENCE\" >> '", seen, "'")});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(ReadOrEmpty(seen), "1\n2\n2\n3\n");
  EXPECT_THAT(Sequences(gateway_.event_acks()), ElementsAre(1, 2, 3));
}

TEST_F(EventsCommandsTest, ExpiredNoticeIsReportedAndAcknowledgedWithoutTheHandler) {
  TempDir dir;
  const std::string seen = dir.Join("seen.txt");
  gateway_.AppendEvents(4);
  gateway_.set_expired_events(1, 2, 86400);
  CliResult result = Subscribe(
      {"--count", "2", "--exec", absl::StrCat("echo \"$NDX_EVENT_SEQUENCE\" >> '", seen, "'")});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(result.err,
            absl::StrCat(kSubscribed,
                         "ndxctl: events 1..2 of mops/residents expired before they were "
                         "acknowledged (retention 86400 s)\n"));
  // --count counts events only, not the notice.
  EXPECT_EQ(ReadOrEmpty(seen), "3\n4\n");
  EXPECT_THAT(Sequences(gateway_.event_acks()), ElementsAre(2, 3, 4));
}

TEST_F(EventsCommandsTest, StreamEndingUnavailableIsResumed) {
  gateway_.AppendEvents(3);
  gateway_.EndEventStreamsUnavailable(1);
  CliResult result = Subscribe({"--count", "3"});
  ASSERT_EQ(result.exit_code, 0) << result;
  // Event 1 came on the first stream and was acknowledged there; 2 and 3 on the second.
  EXPECT_EQ(result.out,
            "1 2026-01-01T00:01:00Z birth.registered B-1\n"
            "2 2026-01-01T00:02:00Z birth.registered B-2\n"
            "3 2026-01-01T00:03:00Z birth.registered B-3\n");
  EXPECT_EQ(result.err, absl::StrCat(kSubscribed,
                                     "ndxctl: warning: the event stream of mops/residents ended "
                                     "(UNAVAILABLE: the gateway is restarting); subscribing "
                                     "again in 200ms\n",
                                     kSubscribed));
  EXPECT_EQ(gateway_.subscribe_requests().size(), 2u);
  EXPECT_THAT(Sequences(gateway_.event_acks()), ElementsAre(1, 2, 3));
}

TEST_F(EventsCommandsTest, RefusedSubscriptionIsExitSeventeenAndNeverSubscribed) {
  CliResult result = Subscribe({}, "denied");
  EXPECT_EQ(result.exit_code, 17) << result;
  // The refusal came without initial metadata: ndxctl does not claim a subscription.
  EXPECT_EQ(result.err,
            "ndxctl: PERMISSION_DENIED: node moh/insurance has no grant on dataset "
            "mops/residents for purpose denied\n");
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_EQ(gateway_.subscribe_requests().size(), 1u);
}

TEST_F(EventsCommandsTest, RevokedGrantEndsTheSubscriptionWithExitSeventeen) {
  gateway_.AppendEvents(2);
  CliResult result = Subscribe({}, "revoked");
  EXPECT_EQ(result.exit_code, 17) << result;
  EXPECT_EQ(result.out, "1 2026-01-01T00:01:00Z birth.registered B-1\n");
  EXPECT_EQ(result.err,
            "ndxctl: subscribed to mops/residents (purpose revoked)\n"
            "ndxctl: PERMISSION_DENIED: grant g-7 was revoked\n");
  EXPECT_THAT(Sequences(gateway_.event_acks()), ElementsAre(1));
  EXPECT_EQ(gateway_.subscribe_requests().size(), 1u);
}

TEST_F(EventsCommandsTest, TakenOverSubscriptionIsExitTwentyWithoutRetry) {
  gateway_.AppendEvents(1);
  CliResult result = Subscribe({}, "taken-over");
  EXPECT_EQ(result.exit_code, 20) << result;
  EXPECT_THAT(result.err, HasSubstr("ndxctl: ABORTED: another subscription of moh/insurance"));
  EXPECT_EQ(gateway_.subscribe_requests().size(), 1u);
}

TEST_F(EventsCommandsTest, SubscribeChecksItsFlags) {
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--count", "0"},
        std::vector<std::string>{"--max-unacknowledged", "1001"}}) {
    CliResult result = Subscribe(flags);
    EXPECT_EQ(result.exit_code, 2) << result;
  }
  EXPECT_THAT(gateway_.subscribe_requests(), IsEmpty());
}

// --- ack and subscriptions --------------------------------------------------------------------

TEST_F(EventsCommandsTest, AckPrintsThePositionTheGatewayAnswers) {
  gateway_.AppendEvents(5);
  CliResult result = Run({"events", "ack", "mops/residents", "3"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(result.out, "acknowledged mops/residents up to #3\n");
  // Acknowledging is never undone: an older sequence leaves the position where it is.
  result = Run({"events", "ack", "mops/residents", "2", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(ParseJson(result.out)["acknowledged_sequence"], "3");
  EXPECT_THAT(Sequences(gateway_.event_acks()), ElementsAre(3, 2));

  result = Run({"events", "ack", "mops/residents", "9"});
  EXPECT_EQ(result.exit_code, 13) << result;
  EXPECT_EQ(result.err,
            "ndxctl: INVALID_ARGUMENT: sequence 9 is past the head 5 of mops/residents\n");
}

TEST_F(EventsCommandsTest, SubscriptionsPrintsATable) {
  gateway_.AppendEvents(5);
  ASSERT_EQ(Run({"events", "ack", "mops/residents", "2"}).exit_code, 0);
  CliResult result = Run({"events", "subscriptions"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_EQ(result.out,
            "SUBSCRIBER     DATASET         PURPOSE                     ACKED  HEAD  PENDING  "
            "EXPIRED  CONNECTED  GRANT\n"
            "moh/insurance  mops/residents  health-insurance-enrolment  2      5     3        "
            "0        no         g-7\n"
            "moj/courts     mops/births     court-proceedings           40     42    2        "
            "0        yes        g-9\n");
  EXPECT_EQ(gateway_.list_subscriptions_requests().back().dataset(), "");

  result = Run({"events", "subscriptions", "--dataset", "mops/births"});
  ASSERT_EQ(result.exit_code, 0) << result;
  EXPECT_THAT(result.out, AllOf(HasSubstr("moj/courts"), Not(HasSubstr("moh/insurance"))));
  EXPECT_EQ(gateway_.list_subscriptions_requests().back().dataset(), "mops/births");
}

TEST_F(EventsCommandsTest, SubscriptionsJsonIsTheResponse) {
  gateway_.AppendEvents(3);
  CliResult result = Run({"events", "subscriptions", "--output", "json"});
  ASSERT_EQ(result.exit_code, 0) << result;
  nlohmann::ordered_json json = ParseJson(result.out);
  ASSERT_EQ(json["subscriptions"].size(), 2u);
  EXPECT_EQ(json["subscriptions"][0]["subscriber"], "moh/insurance");
  EXPECT_EQ(json["subscriptions"][0]["head_sequence"], "3");
  EXPECT_EQ(json["subscriptions"][0]["acknowledged_sequence"], "0");
  EXPECT_EQ(json["subscriptions"][0]["connected"], false);
  EXPECT_EQ(json["subscriptions"][1]["grant_id"], "g-9");
}

// --- the ndxctl binary and signals ----------------------------------------------------------

// ndxctl run as a child process, in a process group of its own (as a shell runs a job), with its
// stderr on a pipe and its stdout in a file.
class NdxctlProcess {
 public:
  NdxctlProcess(const std::vector<std::string>& args, const std::string& stdout_file) {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    stderr_ = fds[0];
    std::vector<std::string> argv_strings = {NDX_NDXCTL_PATH};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    EXPECT_EQ(posix_spawn(&pid_, NDX_NDXCTL_PATH, &actions, &attributes, argv.data(), environ), 0);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
  }

  ~NdxctlProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(-pid_, SIGKILL);  // its handler too
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(stderr_);
  }

  // Reads stderr until it holds `text` `times` times; false after 10 s or at its end.
  bool WaitForStderr(const std::string& text, int times = 1) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (Occurrences(text) < times) {
      const int left = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
      pollfd readable{stderr_, POLLIN, 0};
      if (left <= 0 || ::poll(&readable, 1, left) <= 0) return false;
      char buffer[4096];
      const ssize_t n = ::read(stderr_, buffer, sizeof(buffer));
      if (n <= 0) return false;
      err_.append(buffer, static_cast<size_t>(n));
    }
    return true;
  }

  void Signal(int signal_number) { EXPECT_EQ(::kill(pid_, signal_number), 0); }
  // To ndxctl and its handler, as Ctrl-C in a terminal does.
  void SignalGroup(int signal_number) { EXPECT_EQ(::kill(-pid_, signal_number), 0); }

  // The exit code, or -1 when ndxctl did not exit normally within 10 s.
  int WaitForExit() {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (absl::Now() > deadline) return -1;
      absl::SleepFor(absl::Milliseconds(10));
    }
    exited_ = true;
    ReadStderrToEnd();
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  const std::string& err() const { return err_; }

 private:
  // REQUIRES: the process has exited (so that stderr ends).
  void ReadStderrToEnd() {
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(stderr_, buffer, sizeof(buffer))) > 0) {
      err_.append(buffer, static_cast<size_t>(n));
    }
  }

  int Occurrences(const std::string& text) const {
    int count = 0;
    for (size_t at = err_.find(text); at != std::string::npos; at = err_.find(text, at + 1)) {
      ++count;
    }
    return count;
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  int stderr_ = -1;
  std::string err_;
};

class EventsSignalTest : public EventsCommandsTest {
 protected:
  std::vector<std::string> SubscribeArgs(const std::vector<std::string>& flags,
                                         const std::vector<std::string>& extra = {}) {
    std::vector<std::string> all = flags;
    for (const char* arg : {"events", "subscribe", "mops/residents", "--purpose", "statistics"}) {
      all.push_back(arg);
    }
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  }

  // True once `path` exists, within 10 s.
  static bool WaitForFile(const std::string& path) {
    for (int i = 0; i < 1000 && !std::filesystem::exists(path); ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return std::filesystem::exists(path);
  }

  TempDir dir_;
};

TEST_F(EventsSignalTest, SigtermStopsAnIdleSubscriptionWithExitZero) {
  NdxctlProcess ndxctl(SubscribeArgs(gateway_.FlagsAs(kConsumer)), dir_.Join("out.txt"));
  ASSERT_TRUE(ndxctl.WaitForStderr("ndxctl: subscribed to mops/residents")) << ndxctl.err();
  ndxctl.Signal(SIGTERM);
  EXPECT_EQ(ndxctl.WaitForExit(), 0) << ndxctl.err();
  EXPECT_EQ(ndxctl.err(), "ndxctl: subscribed to mops/residents (purpose statistics)\n");
  EXPECT_TRUE(StreamsClosed());
}

TEST_F(EventsSignalTest, SigtermWaitsForTheRunningHandlerAndAcknowledgesItsEvent) {
  const std::string started = dir_.Join("started");
  const std::string done = dir_.Join("done");
  gateway_.AppendEvents(2);
  NdxctlProcess ndxctl(
      SubscribeArgs(
          gateway_.FlagsAs(kConsumer),
          {"--exec", absl::StrCat("touch '", started,
                                  "'; sleep 1; echo \"$NDX_EVENT_SEQUENCE\" >> '", done, "'")}),
      dir_.Join("out.txt"));
  ASSERT_TRUE(WaitForFile(started)) << ndxctl.err();
  ndxctl.Signal(SIGTERM);
  EXPECT_EQ(ndxctl.WaitForExit(), 0) << ndxctl.err();
  // The handler of event 1 ran to its end and its event was acknowledged; event 2 was not begun.
  EXPECT_EQ(ReadOrEmpty(done), "1\n");
  EXPECT_THAT(Sequences(gateway_.event_acks()), ElementsAre(1));
}

TEST_F(EventsSignalTest, CtrlCKillingTheHandlerStopsWithExitZeroAndNoAcknowledgement) {
  const std::string pid_file = dir_.Join("handler.pid");
  gateway_.AppendEvents(1);
  NdxctlProcess ndxctl(
      SubscribeArgs(gateway_.FlagsAs(kConsumer),
                    {"--exec", absl::StrCat("echo $$ > '", pid_file, "'; exec sleep 30")}),
      dir_.Join("out.txt"));
  // Ctrl-C once the handler is `sleep` itself: a shell between two commands may outlive it.
  ASSERT_TRUE(WaitForFile(pid_file)) << ndxctl.err();
  bool sleeping = false;
  for (int i = 0; i < 1000 && !sleeping; ++i) {
    std::string pid(absl::StripAsciiWhitespace(ReadOrEmpty(pid_file)));
    sleeping = !pid.empty() &&
               absl::StartsWith(ReadOrEmpty(absl::StrCat("/proc/", pid, "/cmdline")), "sleep");
    if (!sleeping) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(sleeping) << ndxctl.err();
  ndxctl.SignalGroup(SIGINT);
  EXPECT_EQ(ndxctl.WaitForExit(), 0) << ndxctl.err();
  EXPECT_THAT(ndxctl.err(), HasSubstr("ndxctl: handler was killed by signal 2 on event "
                                      "mops/residents #1; it was not acknowledged and will be "
                                      "delivered again\n"));
  EXPECT_THAT(gateway_.event_acks(), IsEmpty());
}

TEST_F(EventsSignalTest, UnreachableGatewayIsRetriedWithGrowingPausesUntilSigterm) {
  // A port nothing listens on.
  int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ::close(probe);
  std::vector<std::string> flags = gateway_.FlagsAs(kConsumer);
  flags[1] = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));

  NdxctlProcess ndxctl(SubscribeArgs(flags), dir_.Join("out.txt"));
  ASSERT_TRUE(ndxctl.WaitForStderr("subscribing again in", 3)) << ndxctl.err();
  ndxctl.Signal(SIGTERM);
  EXPECT_EQ(ndxctl.WaitForExit(), 0) << ndxctl.err();
  EXPECT_THAT(ndxctl.err(), AllOf(HasSubstr("cannot subscribe to mops/residents (UNAVAILABLE: "),
                                  HasSubstr("again in 200ms\n"), HasSubstr("again in 400ms\n"),
                                  HasSubstr("again in 800ms\n"), Not(HasSubstr("subscribed to"))));
}

}  // namespace
}  // namespace ndx::cli
