#include "http/mtls_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "crypto/revocation.h"
#include "testing/status_matchers.h"
#include "testing/test_pki.h"

namespace ndx::http {
namespace {

using ::ndx::testing::CertificateDefect;
using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::ndx::testing::TestPki;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class MtlsServerTest : public ::testing::Test {
 protected:
  std::unique_ptr<MtlsServer> StartServer(const crypto::RevocationWatcher* revocation = nullptr,
                                          size_t max_body_bytes = 1 << 20) {
    ServerOptions options{.listen_address = "127.0.0.1:0",
                          .tls = pki_.Gateway("core"),
                          .trust_domain = TestPki::kTrustDomain,
                          .revocation = revocation,
                          .threads = 2,
                          .max_body_bytes = max_body_bytes};
    std::vector<Route> routes;
    routes.push_back({.method = "POST",
                      .pattern = R"(/v1/echo/(.+):(get|query))",
                      .handler = [](const Request& request) {
                        nlohmann::json body = {{"peer", request.peer.ToString()},
                                               {"groups", request.path_groups},
                                               {"body", request.body},
                                               {"header", request.header("X-Test")}};
                        Response response;
                        response.body = body.dump();
                        return response;
                      }});
    absl::StatusOr<std::unique_ptr<MtlsServer>> server =
        MtlsServer::Start(std::move(options), std::move(routes));
    EXPECT_THAT(server.status(), IsOk());
    return server.ok() ? *std::move(server) : nullptr;
  }

  // A client presenting `files`. The server's certificate carries a URI SAN only, which
  // httplib's host-name check cannot match: these tests are about the server's checks.
  std::unique_ptr<httplib::SSLClient> Client(int port, const crypto::TlsFilePaths& files) {
    auto client =
        std::make_unique<httplib::SSLClient>("127.0.0.1", port, files.cert_file, files.key_file);
    client->enable_server_certificate_verification(false);
    client->set_connection_timeout(5);
    client->set_read_timeout(5);
    return client;
  }

  TestPki pki_;
};

TEST_F(MtlsServerTest, IdentifiesTheClientAndPassesThePathGroupsBodyAndHeaders) {
  std::unique_ptr<MtlsServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Client(server->port(), pki_.Node("moh/insurance"));
  httplib::Result result = client->Post("/v1/echo/mops/population:get", {{"X-Test", "yes"}},
                                        R"({"key":"k"})", "application/json");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  nlohmann::json body = nlohmann::json::parse(result->body);
  EXPECT_EQ(body["peer"], "spiffe://ndx.test/node/moh/insurance");
  EXPECT_THAT(body["groups"].get<std::vector<std::string>>(),
              ElementsAre("mops/population", "get"));
  EXPECT_EQ(body["body"], R"({"key":"k"})");
  EXPECT_EQ(body["header"], "yes");
}

TEST_F(MtlsServerTest, AnswersUnknownPathsAndMethodsInJson) {
  std::unique_ptr<MtlsServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = Client(server->port(), pki_.Node("moh/insurance"));
  httplib::Result missing = client->Post("/v2/nothing", "{}", "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing->body)["code"], 5);
  httplib::Result wrong_method = client->Get("/v1/echo/mops/population:get");
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(nlohmann::json::parse(wrong_method->body)["code"], 12);
}

TEST_F(MtlsServerTest, RefusesABodyLargerThanTheLimit) {
  std::unique_ptr<MtlsServer> server = StartServer(nullptr, /*max_body_bytes=*/64);
  ASSERT_NE(server, nullptr);
  auto client = Client(server->port(), pki_.Node("moh/insurance"));
  httplib::Result result =
      client->Post("/v1/echo/mops/population:get", std::string(1000, 'x'), "application/json");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 413);
  EXPECT_THAT(nlohmann::json::parse(result->body)["message"].get<std::string>(),
              HasSubstr("larger than the server accepts"));
}

TEST_F(MtlsServerTest, RefusesClientsThatBreakTheLeafRulesAtTheHandshake) {
  std::unique_ptr<MtlsServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const crypto::SpiffeId client_id = *crypto::ParseSpiffeId("spiffe://ndx.test/node/moh/insurance");
  for (CertificateDefect defect :
       {CertificateDefect::kExpired, CertificateDefect::kOtherCa, CertificateDefect::kTwoUris,
        CertificateDefect::kCaLeaf, CertificateDefect::kNoExtensions,
        CertificateDefect::kServerAuthOnly, CertificateDefect::kOtherTrustDomain}) {
    auto client = Client(server->port(), pki_.WithDefect(client_id, defect));
    httplib::Result result = client->Post("/v1/echo/mops/population:get", "{}", "application/json");
    EXPECT_FALSE(result && result->status == 200) << ::ndx::testing::DefectName(defect);
  }
  // No certificate at all.
  httplib::SSLClient anonymous("127.0.0.1", server->port());
  anonymous.enable_server_certificate_verification(false);
  httplib::Result result = anonymous.Post("/v1/echo/mops/population:get", "{}", "application/json");
  EXPECT_FALSE(result && result->status == 200);
}

TEST_F(MtlsServerTest, RefusesACertificateRevokedAfterItsConnectionOpened) {
  const crypto::TlsFilePaths client_files = pki_.Node("moh/insurance");
  const std::string crl_file = pki_.dir() + "/crl.pem";
  ASSERT_THAT(
      crypto::WriteRevocationList(pki_.ca_dir(), crl_file, absl::Hours(24), absl::Now()).status(),
      IsOk());
  absl::StatusOr<std::unique_ptr<crypto::RevocationWatcher>> revocation =
      crypto::RevocationWatcher::Start(crl_file, pki_.ca_file(), absl::Milliseconds(50));
  ASSERT_THAT(revocation.status(), IsOk());
  std::unique_ptr<MtlsServer> server = StartServer(revocation->get());
  ASSERT_NE(server, nullptr);
  auto client = Client(server->port(), client_files);
  client->set_keep_alive(true);
  httplib::Result before = client->Post("/v1/echo/a/b:get", "{}", "application/json");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 200);

  ASSERT_THAT(crypto::RevokeCertificate(pki_.ca_dir(), client_files.cert_file, absl::Now()),
              IsOk());
  ASSERT_THAT(
      crypto::WriteRevocationList(pki_.ca_dir(), crl_file, absl::Hours(24), absl::Now()).status(),
      IsOk());
  // The watcher polls every 50 ms: wait until it has the new list, then call on the same
  // connection.
  absl::StatusOr<std::string> pem = ReadFile(client_files.cert_file);
  ASSERT_THAT(pem.status(), IsOk());
  for (int i = 0; i < 200 && !(*revocation)->IsRevoked(*pem); ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE((*revocation)->IsRevoked(*pem));
  httplib::Result after = client->Post("/v1/echo/a/b:get", "{}", "application/json");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 401);
  EXPECT_EQ(nlohmann::json::parse(after->body)["code"], 16);
}

// The URI SAN of the certificate the server at `port` presents to a new connection, read with
// the openssl command, a client independent of ours.
std::string PresentedIdentity(int port, const crypto::TlsFilePaths& client) {
  std::string command = "openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -cert " +
                        client.cert_file + " -key " + client.key_file +
                        " </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName";
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  char buffer[256];
  while (pipe != nullptr && fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  if (pipe != nullptr) pclose(pipe);
  return output;
}

TEST_F(MtlsServerTest, PresentsRenewedFilesToNewConnectionsWithoutARestart) {
  std::unique_ptr<MtlsServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const crypto::TlsFilePaths client = pki_.Node("moh/insurance");
  EXPECT_THAT(PresentedIdentity(server->port(), client),
              HasSubstr("URI:spiffe://ndx.test/gateway/core"));
  // Another identity's files replace the server's, as a renewal rewrites them.
  const crypto::TlsFilePaths served = pki_.Gateway("core");
  const crypto::TlsFilePaths renewed = pki_.Gateway("spare");
  namespace fs = std::filesystem;
  fs::copy_file(renewed.cert_file, served.cert_file, fs::copy_options::overwrite_existing);
  fs::copy_file(renewed.key_file, served.key_file, fs::copy_options::overwrite_existing);
  ASSERT_EQ(chmod(served.key_file.c_str(), 0600), 0);
  // Files are looked at again at most once a second; poll until the server took them.
  std::string presented;
  for (int i = 0; i < 50; ++i) {
    presented = PresentedIdentity(server->port(), client);
    if (absl::StrContains(presented, "gateway/spare")) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_THAT(presented, HasSubstr("URI:spiffe://ndx.test/gateway/spare"));
  // And it still serves.
  httplib::Result result =
      Client(server->port(), client)->Post("/v1/echo/a/b:get", "{}", "application/json");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);
}

TEST(MtlsServerStartTest, RefusesABadAddressAndABadPattern) {
  TestPki pki;
  ServerOptions options{.listen_address = "127.0.0.1",
                        .tls = pki.Gateway("core"),
                        .trust_domain = TestPki::kTrustDomain};
  EXPECT_THAT(MtlsServer::Start(options, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("host:port")));
  options.listen_address = "127.0.0.1:0";
  std::vector<Route> routes = {{.method = "GET", .pattern = "(", .handler = nullptr}};
  EXPECT_THAT(MtlsServer::Start(options, std::move(routes)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a regular expression")));
}

}  // namespace
}  // namespace ndx::http
