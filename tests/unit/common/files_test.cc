#include "common/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

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
