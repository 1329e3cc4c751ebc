#include "common/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "ndx/v1/config.pb.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace ndx {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

// The permission bits of `path` (not following a symbolic link); -1 when it cannot be stat'ed.
int ModeOf(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

TEST(FilesTest, WriteAtomicallySetsModeExactly) {
  ndx::testing::TempDir dir;
  std::string path = dir.Join("key.pem");
  ASSERT_THAT(WriteFileAtomically(path, "secret", 0600), IsOk());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*ReadFile(path), "secret");
}

TEST(FilesTest, MissingFileIsNotFound) {
  EXPECT_THAT(ReadFile("/nonexistent/ndx"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(FilesTest, PrivateFileOpenToGroupOrOthersIsRefusedWithTheChmodHint) {
  ndx::testing::TempDir dir;
  std::string path = dir.Join("secret.key");
  ASSERT_THAT(WriteFileAtomically(path, "secret", 0600), IsOk());
  for (int mode : {0640, 0604, 0644, 0660, 0602, 0610, 0601}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    char text[8];
    std::snprintf(text, sizeof(text), "%04o", mode);
    const std::string expected =
        absl::StrCat("key file ", path, " has mode ", text,
                     " and is open to group or others; run: chmod 600 ", path);
    EXPECT_THAT(CheckPrivateFile(path), StatusIs(absl::StatusCode::kFailedPrecondition, expected));
    EXPECT_THAT(ReadPrivateFile(path), StatusIs(absl::StatusCode::kFailedPrecondition, expected));
  }
  for (int mode : {0600, 0400}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    EXPECT_THAT(CheckPrivateFile(path), IsOk()) << mode;
    absl::StatusOr<std::string> content = ReadPrivateFile(path);
    ASSERT_THAT(content, IsOk()) << mode;
    EXPECT_EQ(*content, "secret");
  }
}

TEST(FilesTest, MissingPrivateFileIsNotFound) {
  EXPECT_THAT(CheckPrivateFile("/nonexistent/ndx.key"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/ndx.key")));
  EXPECT_THAT(ReadPrivateFile("/nonexistent/ndx.key"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/ndx.key")));
}

TEST(FilesTest, ReadPrivateFileReadsPastOneBuffer) {
  ndx::testing::TempDir dir;
  std::string path = dir.Join("big.key");
  std::string content(100000, 'k');
  content.back() = 'z';
  ASSERT_THAT(WriteFileAtomically(path, content, 0400), IsOk());
  EXPECT_EQ(ReadPrivateFile(path).value_or(""), content);
}

TEST(FilesTest, MakePrivateDirectoryCreatesItAndItsParents0700) {
  ndx::testing::TempDir dir;
  // A umask that would leave group and others in, as a library caller may have.
  mode_t old_umask = ::umask(022);
  absl::Status made = MakePrivateDirectory(dir.Join("var/lib/ndx/"));
  ::umask(old_umask);
  ASSERT_THAT(made, IsOk());
  EXPECT_EQ(ModeOf(dir.Join("var")), 0700);
  EXPECT_EQ(ModeOf(dir.Join("var/lib")), 0700);
  EXPECT_EQ(ModeOf(dir.Join("var/lib/ndx")), 0700);
  // Made again: nothing to do.
  EXPECT_THAT(MakePrivateDirectory(dir.Join("var/lib/ndx")), IsOk());
  EXPECT_EQ(ModeOf(dir.Join("var/lib/ndx")), 0700);
}

TEST(FilesTest, MakePrivateDirectoryTightensAnOpenTree) {
  ndx::testing::TempDir dir;
  const std::string data = dir.Join("data");
  ASSERT_EQ(::mkdir(data.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(absl::StrCat(data, "/audit").c_str(), 0750), 0);
  ASSERT_EQ(::mkdir(absl::StrCat(data, "/audit/log").c_str(), 0705), 0);
  ASSERT_THAT(WriteFileAtomically(data + "/CURRENT", "x", 0644), IsOk());
  ASSERT_THAT(WriteFileAtomically(data + "/audit/checkpoint.note", "x", 0664), IsOk());
  ASSERT_THAT(WriteFileAtomically(data + "/audit/log/000012.sst", "x", 0604), IsOk());
  ASSERT_THAT(WriteFileAtomically(data + "/audit/log/run.sh", "x", 0755), IsOk());
  ASSERT_THAT(WriteFileAtomically(data + "/audit/read-only", "x", 0444), IsOk());
  ASSERT_THAT(WriteFileAtomically(data + "/private", "x", 0600), IsOk());
  ASSERT_EQ(::chmod(data.c_str(), 0755), 0);  // mkdir's mode went through the umask

  ASSERT_THAT(MakePrivateDirectory(data), IsOk());
  EXPECT_EQ(ModeOf(data), 0700);
  EXPECT_EQ(ModeOf(data + "/audit"), 0700);
  EXPECT_EQ(ModeOf(data + "/audit/log"), 0700);
  EXPECT_EQ(ModeOf(data + "/CURRENT"), 0600);
  EXPECT_EQ(ModeOf(data + "/audit/checkpoint.note"), 0600);
  EXPECT_EQ(ModeOf(data + "/audit/log/000012.sst"), 0600);
  // Group's and others' bits go; the owner's stay as they were.
  EXPECT_EQ(ModeOf(data + "/audit/log/run.sh"), 0700);
  EXPECT_EQ(ModeOf(data + "/audit/read-only"), 0400);
  EXPECT_EQ(ModeOf(data + "/private"), 0600);
}

TEST(FilesTest, MakePrivateDirectoryLeavesFilesOfPrivateDirectoriesAndLinkTargets) {
  ndx::testing::TempDir dir;
  const std::string data = dir.Join("data");
  ASSERT_THAT(MakePrivateDirectory(data + "/audit"), IsOk());
  // Public on purpose, in a directory nobody else can enter: kept across restarts.
  ASSERT_THAT(WriteFileAtomically(data + "/audit/verifier.key", "x", 0644), IsOk());
  // Outside the tree, reached through a link: not ours to change, even from an open directory.
  const std::string outside = dir.Join("shared.pem");
  ASSERT_THAT(WriteFileAtomically(outside, "x", 0644), IsOk());
  ASSERT_EQ(::mkdir((data + "/certs").c_str(), 0755), 0);
  ASSERT_EQ(::chmod((data + "/certs").c_str(), 0755), 0);
  ASSERT_EQ(::symlink(outside.c_str(), (data + "/certs/shared.pem").c_str()), 0);

  ASSERT_THAT(MakePrivateDirectory(data), IsOk());
  EXPECT_EQ(ModeOf(data + "/audit/verifier.key"), 0644);
  EXPECT_EQ(ModeOf(data + "/certs"), 0700);
  EXPECT_EQ(ModeOf(outside), 0644);
}

TEST(FilesTest, MakePrivateDirectoryRefusesAFile) {
  ndx::testing::TempDir dir;
  const std::string file = dir.Join("file");
  ASSERT_THAT(WriteFileAtomically(file, "x", 0644), IsOk());
  EXPECT_THAT(MakePrivateDirectory(file),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is not a directory")));
  EXPECT_FALSE(MakePrivateDirectory(file + "/db").ok());
  EXPECT_EQ(ModeOf(file), 0644);
}

TEST(FilesTest, TextProtoErrorNamesLine) {
  ndx::testing::TempDir dir;
  std::string path = dir.Join("gateway.textproto");
  ASSERT_THAT(WriteFileAtomically(path, "listen_address: \"127.0.0.1:0\"\nbogus: 1\n", 0644),
              IsOk());
  v1::GatewayConfig config;
  EXPECT_THAT(LoadTextProto(path, &config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2")));
}

TEST(FilesTest, ResolvePathIsRelativeToTheConfigFile) {
  EXPECT_EQ(ResolvePath("certs/ca.pem", "/etc/ndx/gateway.textproto"), "/etc/ndx/certs/ca.pem");
  EXPECT_EQ(ResolvePath("/abs/ca.pem", "/etc/ndx/gateway.textproto"), "/abs/ca.pem");
  EXPECT_EQ(ResolvePath("", "/etc/ndx/gateway.textproto"), "");
}

}  // namespace
}  // namespace ndx
