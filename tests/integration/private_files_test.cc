// The gateway's data on disk is private to the service user: a real ndx-gateway process writes
// its registry, audit log, keys and events, and afterwards every directory under its data_dir is
// 0700 and every file 0600, whether the data_dir is new or was left open by an older version.

#include <dirent.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "integration/federation.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kPurpose[] = "health-insurance-enrolment";

// The one file under the data_dir that is meant to be public: the audit verifier key, which the
// operator hands to auditors. It stays 0644 on purpose; the 0700 directory above it keeps it out
// of others' reach on this machine anyway.
constexpr char kPublicFile[] = "audit/verifier.key";

// Every path under `root` (relative to it, not following links) and its lstat mode.
void Walk(const std::string& root, const std::string& relative,
          std::map<std::string, mode_t>* modes) {
  const std::string dir = relative.empty() ? root : absl::StrCat(root, "/", relative);
  DIR* stream = ::opendir(dir.c_str());
  ASSERT_NE(stream, nullptr) << dir;
  while (const struct dirent* entry = ::readdir(stream)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    const std::string child = relative.empty() ? name : absl::StrCat(relative, "/", name);
    struct stat st;
    ASSERT_EQ(::lstat(absl::StrCat(root, "/", child).c_str(), &st), 0) << child;
    (*modes)[child] = st.st_mode;
    if (S_ISDIR(st.st_mode)) Walk(root, child, modes);
  }
  ::closedir(stream);
}

std::map<std::string, mode_t> WalkAll(const std::string& root) {
  std::map<std::string, mode_t> modes;
  Walk(root, "", &modes);
  return modes;
}

std::string Octal(mode_t bits) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(bits));
  return text;
}

// The paths whose mode is not what the data_dir's files must have, as "path 0644".
std::vector<std::string> NotPrivate(const std::string& root) {
  std::vector<std::string> wrong;
  struct stat st;
  if (::stat(root.c_str(), &st) != 0 || (st.st_mode & 07777) != 0700) wrong.push_back(".");
  for (const auto& [path, mode] : WalkAll(root)) {
    const mode_t bits = mode & 07777;
    const bool ok = S_ISDIR(mode)         ? bits == 0700
                    : path == kPublicFile ? bits == 0644
                                          : S_ISREG(mode) && bits == 0600;
    if (!ok) wrong.push_back(absl::StrCat(path, " ", Octal(bits)));
  }
  return wrong;
}

class PrivateFilesTest : public ::testing::Test {
 protected:
  std::string data_dir() const { return federation_.dir().Join("registry"); }
  std::string gateway_log() const {
    return ReadFile(federation_.dir().Join("gateway.log")).value_or("");
  }

  // Starts the gateway with checkpoints every second and makes it write to every store: nodes,
  // a dataset and a grant in the registry, reads in the audit log, a signed checkpoint.
  void StartAndUse(bool register_everything) {
    ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
    ASSERT_THAT(
        federation_.StartGateway(absl::Seconds(2), 0, "audit { checkpoint_interval_seconds: 1 }\n"),
        IsOk());
    if (register_everything) {
      ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
      ASSERT_THAT(
          federation_.Grant(kInsuranceNode, kResidents, {"citizen_id", "full_name"}, {kPurpose}),
          IsOk());
    }
    // One read granted and found, one audited as not found.
    const std::pair<const char*, grpc::StatusCode> reads[] = {
        {"001090000001", grpc::StatusCode::OK}, {"001099999999", grpc::StatusCode::NOT_FOUND}};
    for (const auto& [key, code] : reads) {
      v1::GetRequest request;
      request.set_dataset(kResidents);
      request.set_key(key);
      request.set_purpose(kPurpose);
      v1::GetResponse response;
      grpc::ClientContext context;
      SetTimeout(&context, absl::Seconds(10));
      grpc::Status status =
          federation_.ExchangeAs(kInsuranceNode)->Get(&context, request, &response);
      EXPECT_EQ(status.error_code(), code) << key << ": " << status.error_message();
    }
    // The checkpointer signs within a second once the log has grown.
    const std::string note = data_dir() + "/audit/checkpoint.note";
    for (int i = 0; i < 100 && !ReadFile(note).ok(); ++i) absl::SleepFor(absl::Milliseconds(50));
    ASSERT_THAT(ReadFile(note), IsOk());
    int exit_status = federation_.StopGateway();
    ASSERT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0) << gateway_log();
  }

  // The walk is not vacuous: every store and key is there to be checked.
  void ExpectEveryStore() {
    std::map<std::string, mode_t> modes = WalkAll(data_dir());
    for (const char* path : {"CURRENT", "audit", "audit/log", "audit/log/CURRENT",
                             "audit/pseudonym.key", "audit/checkpoint.key", "audit/checkpoint.note",
                             kPublicFile, "events", "events/CURRENT"}) {
      EXPECT_TRUE(modes.count(path)) << path;
    }
  }

  Federation federation_;
};

TEST_F(PrivateFilesTest, EverythingTheGatewayWritesIsPrivate) {
  StartAndUse(/*register_everything=*/true);
  ExpectEveryStore();
  EXPECT_THAT(NotPrivate(data_dir()), IsEmpty());
  // Nothing was open, so nothing was tightened.
  EXPECT_THAT(gateway_log(), Not(HasSubstr("open to group or others")));

  // A restart leaves the public verifier key as it is instead of tightening and rewriting it.
  const size_t before = gateway_log().size();
  StartAndUse(/*register_everything=*/false);
  EXPECT_THAT(gateway_log().substr(before), Not(HasSubstr("open to group or others")));
  EXPECT_THAT(NotPrivate(data_dir()), IsEmpty());
}

TEST_F(PrivateFilesTest, OpenDataDirectoryIsTightenedAtStart) {
  const std::string notes = data_dir() + "/notes.txt";
  ASSERT_EQ(::mkdir(data_dir().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(data_dir().c_str(), 0755), 0);
  ASSERT_THAT(WriteFileAtomically(notes, "left by an operator\n", 0644), IsOk());

  StartAndUse(/*register_everything=*/true);
  ExpectEveryStore();
  EXPECT_THAT(NotPrivate(data_dir()), IsEmpty());
  const std::string log = gateway_log();
  EXPECT_THAT(log, HasSubstr(absl::StrCat(data_dir(),
                                          " had mode 0755, open to group or others; "
                                          "changed it to 0700")));
  EXPECT_THAT(log, HasSubstr(absl::StrCat(notes,
                                          " had mode 0644, open to group or others; "
                                          "changed it to 0600")));
}

// What an older version left: directories 0755 and RocksDB files 0644 (its keys were 0600
// already; a key open to others stops the start instead, see gateway_server_test).
TEST_F(PrivateFilesTest, DataLeftOpenByAnOlderVersionIsTightenedAtStart) {
  StartAndUse(/*register_everything=*/true);
  ASSERT_EQ(::chmod(data_dir().c_str(), 0755), 0);
  for (const auto& [path, mode] : WalkAll(data_dir())) {
    const std::string full = absl::StrCat(data_dir(), "/", path);
    if (S_ISDIR(mode)) {
      ASSERT_EQ(::chmod(full.c_str(), 0755), 0);
    } else if (!absl::EndsWith(path, ".key")) {
      ASSERT_EQ(::chmod(full.c_str(), 0644), 0);
    }
  }
  ASSERT_THAT(NotPrivate(data_dir()), Not(IsEmpty()));

  StartAndUse(/*register_everything=*/false);
  EXPECT_THAT(NotPrivate(data_dir()), IsEmpty());
  EXPECT_THAT(gateway_log(), HasSubstr(absl::StrCat(data_dir(), "/audit/log had mode 0755")));
  EXPECT_THAT(gateway_log(), HasSubstr(absl::StrCat(data_dir(), "/events/CURRENT had mode 0644")));
}

}  // namespace
}  // namespace ndx::testing
