#include "integration/fake_adapter.h"

#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace ndx::testing {

FakeAdapter::FakeAdapter(const crypto::TlsFilePaths& owner_tls, Reply reply)
    : reply_(std::move(reply)) {
  auto credentials = crypto::MakeServerCredentials(owner_tls);
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
  builder.SetMaxSendMessageSize(64 << 20);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  EXPECT_NE(port_, 0);
}

FakeAdapter::~FakeAdapter() {
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
}

std::string FakeAdapter::endpoint() const { return absl::StrCat("127.0.0.1:", port_); }

grpc::Status FakeAdapter::Fetch(grpc::ServerContext* context, const v1::FetchRequest* request,
                                v1::FetchResponse* response) {
  ++fetch_count_;
  absl::Time until = absl::Now() + absl::Milliseconds(delay_ms_.load());
  while (absl::Now() < until && !context->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
  return reply_(*request, response);
}

}  // namespace ndx::testing
