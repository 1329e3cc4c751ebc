// Runs the ndx-adapter binary itself: port file, a call over mTLS, SIGTERM, exit codes.

#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "crypto/pki.h"
#include "crypto/tls.h"
#include "fake_agency_api.h"
#include "google/protobuf/text_format.h"
#include "ndx/v1/adapter.grpc.pb.h"
#include "test_data.h"
#include "testing/status_matchers.h"
#include "testing/test_pki.h"

extern char** environ;

namespace ndx::adapters {
namespace {

using ::ndx::adapters::testing::FakeAgencyApi;
using ::ndx::adapters::testing::PopulationData;
using ::ndx::testing::IsOk;
using ::ndx::testing::TestPki;
using ::testing::HasSubstr;
using ::testing::Not;

// ndx-adapter with `args`, its stderr sent to `stderr_path`.
pid_t Spawn(const std::vector<std::string>& args, const std::string& stderr_path) {
  std::vector<char*> argv;
  std::string binary = NDX_ADAPTER_BIN;
  argv.push_back(binary.data());
  std::vector<std::string> owned = args;
  for (std::string& arg : owned) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// The exit code, or -1 if the process did not exit normally within `timeout`.
int WaitExit(pid_t pid, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

TEST(AdapterBinaryTest, BadConfigExitsTwoWithTheReason) {
  PopulationData data;
  v1::AdapterConfig config = data.Config();
  config.mutable_datasets(0)->set_table("citizens");
  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
  ASSERT_THAT(WriteFileAtomically(data.config_path(), text, 0644), IsOk());
  std::string stderr_path = data.dir() + "/stderr.txt";
  pid_t pid = Spawn({"--config", data.config_path()}, stderr_path);
  EXPECT_EQ(WaitExit(pid, std::chrono::seconds(30)), 2);
  EXPECT_THAT(*ReadFile(stderr_path), HasSubstr("table \"citizens\" does not exist"));

  pid = Spawn({"--port_file", data.dir() + "/port"}, stderr_path);
  EXPECT_EQ(WaitExit(pid, std::chrono::seconds(30)), 2);
  EXPECT_THAT(*ReadFile(stderr_path), HasSubstr("--config"));
}

TEST(AdapterBinaryTest, ServesUntilSigterm) {
  TestPki pki;
  PopulationData data;
  crypto::TlsFilePaths tls = pki.Node("pop/registry");
  v1::AdapterConfig config = data.Config();
  config.mutable_tls()->set_ca_file(tls.ca_file);
  config.mutable_tls()->set_cert_file(tls.cert_file);
  config.mutable_tls()->set_key_file(tls.key_file);
  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
  ASSERT_THAT(WriteFileAtomically(data.config_path(), text, 0644), IsOk());

  const std::string port_file = data.dir() + "/port";
  const std::string stderr_path = data.dir() + "/stderr.txt";
  pid_t pid =
      Spawn({"--config", data.config_path(), "--port_file", port_file, "--log_level", "debug"},
            stderr_path);
  absl::StatusOr<std::string> port;
  for (int i = 0; i < 1500 && !(port = ReadFile(port_file)).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_THAT(port, IsOk()) << *ReadFile(stderr_path);
  ASSERT_FALSE(port->empty());
  EXPECT_EQ(port->back(), '\n');

  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      crypto::MakeChannelCredentials(pki.Gateway("core"), std::nullopt);
  ASSERT_THAT(credentials, IsOk());
  auto stub = v1::Adapter::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port->substr(0, port->size() - 1)), *credentials));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::FetchRequest request;
  request.set_dataset("pop/households");
  request.set_key("7");
  request.mutable_context()->set_request_id("req-binary");
  v1::FetchResponse response;
  grpc::Status status = stub->Fetch(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.record().empty());

  // The connection stays open, as the gateway's would: the stop must not wait for it to close
  // (the binary's grace period is 5 s).
  auto stop_start = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  EXPECT_EQ(WaitExit(pid, std::chrono::seconds(30)), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - stop_start, std::chrono::seconds(4));
  std::string log = *ReadFile(stderr_path);
  EXPECT_THAT(log,
              HasSubstr("ndx-adapter listening on 127.0.0.1:" + port->substr(0, port->size() - 1)));
  EXPECT_THAT(log, HasSubstr("request_id=req-binary"));
}

// ndx-adapter serving pop/people from a fake agency HTTP/JSON API, and a gateway's stub to it.
// Killed on destruction if a test left it running.
class RestAdapter {
 public:
  // A FakeAgencyApi with a certificate of `pki` naming 127.0.0.1.
  static FakeAgencyApi::Options ApiOptions(TestPki& pki, const PopulationData& data) {
    crypto::LeafOptions server;
    server.identity = crypto::SpiffeId::Node(TestPki::kTrustDomain, "pop/api");
    server.ip_addresses = {"127.0.0.1"};
    EXPECT_THAT(crypto::IssueCertificate(pki.ca_dir(), data.dir() + "/api", "tls", server), IsOk());
    FakeAgencyApi::Options options;
    options.server = {pki.ca_file(), data.dir() + "/api/tls.pem", data.dir() + "/api/tls.key"};
    return options;
  }

  // Starts the adapter with pop/people at api.Url(path); check started() after.
  RestAdapter(TestPki& pki, const PopulationData& data, const FakeAgencyApi& api,
              const std::string& path = "/people")
      : stderr_path_(data.dir() + "/stderr.txt") {
    crypto::TlsFilePaths tls = pki.Node("pop/registry");
    v1::AdapterConfig config = data.Config();
    config.mutable_tls()->set_ca_file(tls.ca_file);
    config.mutable_tls()->set_cert_file(tls.cert_file);
    config.mutable_tls()->set_key_file(tls.key_file);
    config.clear_datasets();
    v1::DatasetBinding* people = config.add_datasets();
    people->set_dataset("pop/people");
    people->set_proto_file("person.proto");
    people->set_message_type("pop.v1.Person");
    people->set_key_field("citizen_id");
    people->mutable_rest()->set_base_url(api.Url(path));
    people->mutable_rest()->set_ca_file(pki.ca_file());
    std::string text;
    EXPECT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
    EXPECT_THAT(WriteFileAtomically(data.config_path(), text, 0644), IsOk());

    const std::string port_file = data.dir() + "/port";
    pid_ = Spawn({"--config", data.config_path(), "--port_file", port_file, "--log_level", "debug"},
                 stderr_path_);
    absl::StatusOr<std::string> port;
    for (int i = 0; i < 1500 && !(port = ReadFile(port_file)).ok(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        crypto::MakeChannelCredentials(pki.Gateway("core"), std::nullopt);
    if (!port.ok() || port->empty() || !credentials.ok()) {
      ADD_FAILURE() << "the adapter did not start: " << log();
      return;
    }
    stub_ = v1::Adapter::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port->substr(0, port->size() - 1)), *credentials));
  }

  ~RestAdapter() {
    // A test that stopped half-way leaves the process running: WaitExit with no time kills it.
    if (pid_ > 0) WaitExit(pid_, std::chrono::seconds(0));
  }

  bool started() const { return stub_ != nullptr; }

  grpc::Status Fetch(const std::string& key, v1::FetchResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::FetchRequest request;
    request.set_dataset("pop/people");
    request.set_key(key);
    request.add_fields("full_name");
    return stub_->Fetch(&context, request, response);
  }
  grpc::Status Search(const std::string& province, v1::SearchResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::SearchRequest request;
    request.set_dataset("pop/people");
    v1::Filter* filter = request.add_filters();
    filter->set_field("province");
    filter->set_value(province);
    request.set_page_size(10);
    return stub_->Search(&context, request, response);
  }

  // SIGTERM, then the exit code (-1 if it did not exit normally).
  int Stop() {
    if (kill(pid_, SIGTERM) != 0) return -1;
    const int code = WaitExit(pid_, std::chrono::seconds(30));
    pid_ = -1;
    return code;
  }

  std::string log() const {
    absl::StatusOr<std::string> text = ReadFile(stderr_path_);
    return text.ok() ? *text : "";
  }

 private:
  const std::string stderr_path_;
  pid_t pid_ = -1;
  std::unique_ptr<v1::Adapter::Stub> stub_;
};

// pop/people served from a fake agency HTTP/JSON API through the real binary: the gateway's
// Fetch and Search reach the API over HTTPS, and the adapter's debug log holds no key, filter
// value, record value or URL.
TEST(AdapterBinaryTest, ServesARestDatasetAndKeepsCitizensDataOutOfItsLog) {
  TestPki pki;
  PopulationData data;  // for person.proto (pop.v1.Person) and the config's frame
  FakeAgencyApi api(RestAdapter::ApiOptions(pki, data));
  RestAdapter adapter(pki, data, api);
  ASSERT_TRUE(adapter.started());

  v1::FetchResponse fetched;
  grpc::Status status = adapter.Fetch("p117", &fetched);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_NE(fetched.record().find("Person 17"), std::string::npos);
  // The API restarts: the adapter's kept-alive connection is dead and replaced.
  api.Restart();
  status = adapter.Fetch("p117", &fetched);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(adapter.Fetch("p999", &fetched).error_code(), grpc::StatusCode::NOT_FOUND);

  v1::SearchResponse found;
  status = adapter.Search("DN", &found);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(found.records_size(), 10);
  EXPECT_FALSE(found.next_page_token().empty());

  EXPECT_EQ(adapter.Stop(), 0);
  const std::string log = adapter.log();
  EXPECT_THAT(log, HasSubstr("Fetch request_id="));
  for (const char* secret : {"p117", "p999", "Person 17", "/people/"}) {
    EXPECT_THAT(log, Not(HasSubstr(secret))) << log;
  }
}

// An API that gives up half-way through its answers: the calls are UNAVAILABLE and the adapter
// lives on. (The connection's end is where a write could raise SIGPIPE, whose default action
// would end the adapter: it runs no HTTP server, whose constructor would ignore SIGPIPE for the
// whole process. RestConnection blocks it while a request runs.)
TEST(AdapterBinaryTest, RestAdapterSurvivesAnApiThatAbortsItsAnswers) {
  TestPki pki;
  PopulationData data;
  FakeAgencyApi api(RestAdapter::ApiOptions(pki, data));
  RestAdapter adapter(pki, data, api, "/abort");
  ASSERT_TRUE(adapter.started());
  for (int i = 0; i < 5; ++i) {
    v1::FetchResponse fetched;
    const grpc::Status status = adapter.Fetch("p117", &fetched);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  }
  EXPECT_EQ(adapter.Stop(), 0) << adapter.log();
}

}  // namespace
}  // namespace ndx::adapters
