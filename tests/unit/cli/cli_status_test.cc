#include "cli/cli_status.h"

#include <gtest/gtest.h>

namespace ndx::cli {
namespace {

TEST(ExitCodeTest, OkIsZero) { EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0); }

TEST(ExitCodeTest, UsageErrorIsTwo) {
  EXPECT_EQ(ExitCodeFor(UsageError("--kind: bad")), kExitUsage);
  EXPECT_EQ(kExitUsage, 2);
}

TEST(ExitCodeTest, UnmarkedErrorsAreLocal) {
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("cannot open x.proto")), 3);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("bad profile")), 3);
  EXPECT_EQ(ExitCodeFor(absl::AlreadyExistsError("ca.key exists")), 3);
}

TEST(ExitCodeTest, RpcErrorsAreTenPlusTheGrpcCode) {
  struct Case {
    grpc::StatusCode code;
    int exit_code;
  };
  for (const Case& c :
       {Case{grpc::StatusCode::INVALID_ARGUMENT, 13}, Case{grpc::StatusCode::DEADLINE_EXCEEDED, 14},
        Case{grpc::StatusCode::NOT_FOUND, 15}, Case{grpc::StatusCode::PERMISSION_DENIED, 17},
        Case{grpc::StatusCode::UNAVAILABLE, 24}, Case{grpc::StatusCode::UNAUTHENTICATED, 26},
        Case{grpc::StatusCode::CANCELLED, 11}}) {
    absl::Status status = RpcError(grpc::Status(c.code, "refused"));
    EXPECT_TRUE(IsRpcError(status));
    EXPECT_FALSE(IsUsageError(status));
    EXPECT_EQ(ExitCodeFor(status), c.exit_code) << status;
  }
}

TEST(ExitCodeTest, RpcOkStaysOk) {
  absl::Status status = RpcError(grpc::Status::OK);
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(ExitCodeFor(status), 0);
}

TEST(ExitCodeTest, MarkSurvivesCopies) {
  absl::Status original = RpcError(grpc::Status(grpc::StatusCode::NOT_FOUND, "no node"));
  absl::Status copy = original;
  EXPECT_EQ(ExitCodeFor(copy), 15);
}

TEST(FormatErrorTest, NamesTheCodeLikeGrpc) {
  EXPECT_EQ(FormatError(RpcError(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                              "node moh/insurance has no grant"))),
            "ndxctl: PERMISSION_DENIED: node moh/insurance has no grant");
  EXPECT_EQ(FormatError(UsageError("--where: \"a\" is not FIELD=VALUE")),
            "ndxctl: INVALID_ARGUMENT: --where: \"a\" is not FIELD=VALUE");
  EXPECT_EQ(FormatError(absl::DeadlineExceededError("late")), "ndxctl: DEADLINE_EXCEEDED: late");
}

}  // namespace
}  // namespace ndx::cli
