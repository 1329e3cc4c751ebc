// Who may talk to the gateway: only certificates of the platform CA, with one ndx node identity.
// Every certificate defect, against the gateway and an adapter, is in certificate_matrix_test.

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"
#include "common/files.h"
#include "integration/federation.h"
#include "testing/status_matchers.h"

namespace ndx::testing {
namespace {

using ::testing::HasSubstr;

// The bytes of a ByteBuffer, concatenated.
std::string Bytes(grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(federation_.StartPopulationAdapter(), IsOk());
    ASSERT_THAT(federation_.StartGateway(), IsOk());
    ASSERT_THAT(federation_.RegisterNodesAndResidents(), IsOk());
  }

  grpc::Status ListNodes(std::shared_ptr<grpc::Channel> channel) {
    grpc::ClientContext context;
    SetTimeout(&context, absl::Seconds(5));
    v1::ListNodesResponse response;
    return v1::Registry::NewStub(channel)->ListNodes(&context, v1::ListNodesRequest(), &response);
  }

  Federation federation_;
};

TEST_F(IdentityTest, RegisteredNodeIsServed) {
  EXPECT_TRUE(ListNodes(federation_.ChannelAs(kInsuranceNode)).ok());
}

TEST_F(IdentityTest, CertificateFromAnotherCaFailsTheHandshake) {
  grpc::Status status =
      ListNodes(federation_.ChannelWith(federation_.pki().OtherCaNode(kInsuranceNode)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

// A channel that trusts any server certificate, presenting the client's only when `client` is
// set: with the server check out of the way, a failure can only be the gateway refusing us.
std::shared_ptr<grpc::Channel> LaxChannel(const std::string& address, const std::string& ca_file,
                                          const crypto::TlsFilePaths* client) {
  std::vector<grpc::experimental::IdentityKeyCertPair> identity;
  if (client != nullptr) {
    identity.push_back({*ReadFile(client->key_file), *ReadFile(client->cert_file)});
  }
  auto provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
      *ReadFile(ca_file), identity);
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  if (client != nullptr) options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  options.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::experimental::TlsCredentials(options), args);
}

TEST_F(IdentityTest, ClientWithoutCertificateFailsTheHandshake) {
  crypto::TlsFilePaths insurance = federation_.pki().Node(kInsuranceNode);
  // The same channel with a certificate works, so the refusal below is the missing certificate.
  EXPECT_TRUE(
      ListNodes(LaxChannel(federation_.gateway_address(), federation_.pki().ca_file(), &insurance))
          .ok());
  grpc::Status status =
      ListNodes(LaxChannel(federation_.gateway_address(), federation_.pki().ca_file(), nullptr));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(IdentityTest, ExpiredCertificateFailsTheHandshake) {
  grpc::Status status =
      ListNodes(federation_.ChannelWith(federation_.pki().ExpiredNode(kInsuranceNode)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(IdentityTest, UnregisteredNodeIsRefused) {
  grpc::Status status = ListNodes(federation_.ChannelAs("mof/tax"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("mof/tax"));
}

TEST_F(IdentityTest, GatewayIdentityMayNotReadData) {
  v1::GetRequest request;
  request.set_dataset(kResidents);
  request.set_key("001090000001");
  request.set_purpose("audit");
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(5));
  v1::GetResponse response;
  grpc::Status status =
      v1::Exchange::NewStub(federation_.ChannelWith(federation_.pki().Gateway("edge")))
          ->Get(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
}

TEST_F(IdentityTest, ServesHealthChecking) {
  // grpc.health.v1.Health/Check with an empty request (all services); the response's field 1 is
  // the serving status, SERVING = 1.
  grpc::GenericStub stub(federation_.ChannelAs(kInsuranceNode));
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(5));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status result) {
                   status = result;
                   done.Notify();
                 });
  done.WaitForNotification();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Bytes(response), std::string("\x08\x01", 2));
}

TEST_F(IdentityTest, ServesReflection) {
  // grpc.reflection.v1alpha.ServerReflection, hand-encoded since Debian ships no generated stub
  // for it: the request sets list_services (field 7) to ""; the answer names every service.
  grpc::GenericStub stub(federation_.ChannelAs(kInsuranceNode));
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  SetTimeout(&context, absl::Seconds(5));
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
  // Each operation completes before the next starts; `expected` is its tag.
  auto await = [&](intptr_t expected) {
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(queue.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), expected);
    EXPECT_TRUE(ok);
  };
  call->StartCall(reinterpret_cast<void*>(1));
  await(1);
  grpc::Slice list_services(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&list_services, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  await(2);
  call->WritesDone(reinterpret_cast<void*>(3));
  await(3);
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(4));
  await(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  await(5);
  queue.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue.Next(&tag, &ok)) {
  }
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::string listed = Bytes(response);
  EXPECT_THAT(listed, HasSubstr("ndx.v1.Exchange"));
  EXPECT_THAT(listed, HasSubstr("ndx.v1.Registry"));
  EXPECT_THAT(listed, HasSubstr("grpc.health.v1.Health"));
}

}  // namespace
}  // namespace ndx::testing
