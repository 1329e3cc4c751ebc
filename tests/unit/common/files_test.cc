#include "common/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

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
