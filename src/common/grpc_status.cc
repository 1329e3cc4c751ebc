#include "common/grpc_status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "google/rpc/status.pb.h"

namespace ndx {
namespace {

// Payloads under google.rpc's type URLs (a RetryInfo, say) are error details meant for the
// caller; any other payload is the process's own business and stays in it.
constexpr char kDetailUrlPrefix[] = "type.googleapis.com/google.rpc.";

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status details;
  status.ForEachPayload([&](absl::string_view type_url, const absl::Cord& payload) {
    if (!absl::StartsWith(type_url, kDetailUrlPrefix)) return;
    google::protobuf::Any* detail = details.add_details();
    detail->set_type_url(std::string(type_url));
    detail->set_value(std::string(payload));
  });
  auto code = static_cast<grpc::StatusCode>(status.code());
  std::string message(status.message());
  if (details.details().empty()) return grpc::Status(code, std::move(message));
  details.set_code(static_cast<int32_t>(status.code()));
  details.set_message(message);
  return grpc::Status(code, std::move(message), details.SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status converted(static_cast<absl::StatusCode>(status.error_code()),
                         status.error_message());
  google::rpc::Status details;
  if (!status.error_details().empty() && details.ParseFromString(status.error_details())) {
    for (const google::protobuf::Any& detail : details.details()) {
      if (absl::StartsWith(detail.type_url(), kDetailUrlPrefix)) {
        converted.SetPayload(detail.type_url(), absl::Cord(detail.value()));
      }
    }
  }
  return converted;
}

}  // namespace ndx
