#include "integration/fake_adapter.h"

#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "testing/test_pki.h"

namespace ndx::testing {
namespace {

std::shared_ptr<grpc::ServerCredentials> PlainCredentials(const crypto::TlsFilePaths& tls) {
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = ReadFile(tls.ca_file).value_or("");
  options.pem_key_cert_pairs.push_back(
      {ReadFile(tls.key_file).value_or(""), ReadFile(tls.cert_file).value_or("")});
  return grpc::SslServerCredentials(options);
}

}  // namespace

FakeAdapter::FakeAdapter(const crypto::TlsFilePaths& owner_tls, Reply reply, Presenting presenting)
    : reply_(std::move(reply)) {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (presenting == Presenting::kAsIs) {
    credentials = PlainCredentials(owner_tls);
  } else {
    auto checked = crypto::MakeServerCredentials(owner_tls, TestPki::kTrustDomain);
    if (!checked.ok()) {
      ADD_FAILURE() << checked.status();
      return;
    }
    credentials = *checked;
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", credentials, &port_);
  builder.SetMaxSendMessageSize(64 << 20);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  EXPECT_NE(port_, 0);
}

FakeAdapter::~FakeAdapter() {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
}

std::string FakeAdapter::endpoint() const { return absl::StrCat("127.0.0.1:", port_); }

grpc::Status FakeAdapter::Fetch(grpc::ServerContext* context, const v1::FetchRequest* request,
                                v1::FetchResponse* response) {
  ++fetch_count_;
  if (hang_ != nullptr && hang_(*request)) {
    ++hanging_;
    while (!released_ && !context->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
    --hanging_;
  }
  absl::Time until = absl::Now() + absl::Milliseconds(delay_ms_.load());
  while (absl::Now() < until && !context->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
  return reply_(*request, response);
}

}  // namespace ndx::testing
