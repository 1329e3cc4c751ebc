#include "fake_agency_api.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace ndx::adapters::testing {
namespace {

using Json = nlohmann::json;

// The people the API serves, by id (ordered, as the query form pages through them by id).
const std::map<std::string, Json>& People() {
  static const auto* people = [] {
    auto* map = new std::map<std::string, Json>;
    (*map)["001"] = Json::parse(R"({
      "citizen_id": "001", "fullName": "Nguyen Van A", "birthYear": 1980, "sex": "MALE",
      "alive": true, "height_m": 1.72, "registeredAt": "2020-01-02T10:04:05+07:00",
      "photo": "AQI=", "province": "HN", "household": "7",
      "nickname": "Ti", "address": {"street": "1 Trang Tien", "ward": ["Hoan Kiem"]}})");
    (*map)["002"] = Json::parse(R"({
      "citizen_id": "002", "full_name": "Tran Thi B", "birth_year": 1985, "sex": 2,
      "alive": false, "province": "HN", "registered_at": null})");
    (*map)["a/b c?&%"] = Json::parse(R"({"citizen_id": "a/b c?&%", "full_name": "Odd Key"})");
    (*map)["no-key"] = Json::parse(R"({"full_name": "Keyless"})");
    (*map)["wrong-key"] = Json::parse(R"({"citizen_id": "someone-else", "full_name": "Other"})");
    (*map)["bad-type"] = Json::parse(
        R"({"citizen_id": "bad-type", "full_name": "Broken", "birth_year": "nineteen eighty"})");
    for (int i = 0; i < 25; ++i) {
      const std::string id = absl::StrCat("p", 100 + i);
      (*map)[id] = Json{{"citizen_id", id},
                        {"full_name", absl::StrCat("Person ", i)},
                        {"birth_year", 2000 + i % 3},
                        {"alive", i % 2 == 0},
                        {"province", "DN"}};
    }
    return map;
  }();
  return *people;
}

// Records with a repeated field (pop.v1.WithTags), by id.
const std::map<std::string, Json>& Tagged() {
  static const auto* tagged = new std::map<std::string, Json>{
      {"t1", Json::parse(R"({"id": "t1", "tags": ["b", "a", "b", ""]})")},
      {"t2", Json::parse(R"({"id": "t2", "tags": []})")},
      {"t3", Json::parse(R"({"id": "t3"})")},
  };
  return *tagged;
}

// A member's value as query text: strings as they are, the rest as JSON spells them.
std::string Text(const Json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

bool Matches(const Json& record, const httplib::Params& params) {
  for (const auto& [name, value] : params) {
    if (name == "page_size" || name == "page_token") continue;
    auto member = record.find(name);
    if (member == record.end() || Text(*member) != value) return false;
  }
  return true;
}

void SendJson(httplib::Response& response, const Json& json) {
  response.set_content(json.dump(), "application/json");
}

// The query form over `records`: those after page_token that match every filter, at most
// page_size of them, with the last one's `key` member as next_page_token when more remain.
void Query(const std::map<std::string, Json>& records_by_key, const std::string& key,
           const httplib::Request& request, httplib::Response& response) {
  int page_size = 100;
  if (request.has_param("page_size") &&
      !absl::SimpleAtoi(request.get_param_value("page_size"), &page_size)) {
    response.status = 400;
    return;
  }
  const std::string after = request.get_param_value("page_token");
  Json records = Json::array();
  std::string next;
  for (auto it = after.empty() ? records_by_key.begin() : records_by_key.upper_bound(after);
       it != records_by_key.end(); ++it) {
    if (!Matches(it->second, request.params)) continue;
    if (static_cast<int>(records.size()) == page_size) {
      next = records.back()[key].get<std::string>();
      break;
    }
    records.push_back(it->second);
  }
  Json answer{{"records", records}};
  if (!next.empty()) answer["next_page_token"] = next;
  SendJson(response, answer);
}

}  // namespace

FakeAgencyApi::FakeAgencyApi(Options options) : options_(std::move(options)) { Serve(0); }

FakeAgencyApi::~FakeAgencyApi() {
  ReleaseSlow();
  Stop();
}

std::string FakeAgencyApi::Url(const std::string& path) const {
  return absl::StrCat("https://127.0.0.1:", port_, path);
}

void FakeAgencyApi::Serve(int port) {
  server_ = std::make_unique<httplib::SSLServer>(
      options_.server.cert_file.c_str(), options_.server.key_file.c_str(),
      options_.client_ca_file.empty() ? nullptr : options_.client_ca_file.c_str());
  ASSERT_TRUE(server_->is_valid()) << "cannot load the fake API's certificate";
  httplib::SSLServer& server = *server_;
  server.set_tcp_nodelay(true);
  // Stop() waits for the threads of kept-alive connections, which wait this long for a request.
  server.set_keep_alive_timeout(1);
  server.set_pre_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        const std::string authorization = request.get_header_value("Authorization");
        {
          absl::MutexLock lock(&mutex_);
          targets_.push_back(request.target);
          authorizations_.push_back(authorization);
        }
        if (!options_.bearer_token.empty() &&
            authorization != absl::StrCat("Bearer ", options_.bearer_token)) {
          response.status = 401;
          return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });
  server.Get("/people", [](const httplib::Request& request, httplib::Response& response) {
    Query(People(), "citizen_id", request, response);
  });
  server.Get(R"(/people/(.+))", [](const httplib::Request& request, httplib::Response& response) {
    auto it = People().find(request.matches[1].str());
    if (it == People().end()) {
      response.status = 404;
      return;
    }
    SendJson(response, it->second);
  });
  server.Get("/tagged", [](const httplib::Request& request, httplib::Response& response) {
    Query(Tagged(), "id", request, response);
  });
  server.Get(R"(/tagged/(.+))", [](const httplib::Request& request, httplib::Response& response) {
    auto it = Tagged().find(request.matches[1].str());
    if (it == Tagged().end()) {
      response.status = 404;
      return;
    }
    SendJson(response, it->second);
  });
  server.Get(R"(/households/(.+))",
             [](const httplib::Request& request, httplib::Response& response) {
               if (request.matches[1].str() != "7") {
                 response.status = 404;
                 return;
               }
               SendJson(response, Json{{"household_id", "7"}, {"address", "1 Trang Tien"}});
             });
  server.Get("/ignoring", [](const httplib::Request&, httplib::Response& response) {
    Json records = Json::array();
    for (const char* id : {"001", "002", "p100", "p101"}) records.push_back(People().at(id));
    SendJson(response, Json{{"records", records}});
  });
  server.Get(R"(/slow(/.*)?)", [this](const httplib::Request&, httplib::Response& response) {
    release_slow_.WaitForNotificationWithTimeout(absl::Seconds(60));
    SendJson(response, Json{{"records", Json::array()}});
  });
  server.Get(R"(/status/(\d+)(/.*)?)",
             [](const httplib::Request& request, httplib::Response& response) {
               int status = 500;
               EXPECT_TRUE(absl::SimpleAtoi(request.matches[1].str(), &status));
               response.status = status;
               response.set_content("{}", "application/json");
             });
  server.Get(R"(/garbage(/.*)?)", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("<html>Service temporarily moved</html>", "text/html");
  });
  server.Get(R"(/redirect(/.*)?)", [](const httplib::Request&, httplib::Response& response) {
    response.set_redirect("https://example.org/people/001");
  });
  server.Get(R"(/abort(/.*)?)", [](const httplib::Request&, httplib::Response& response) {
    // Promises 1 KiB, sends a few bytes, then gives up: the server closes the connection.
    response.set_content_provider(1024, "application/json",
                                  [](size_t offset, size_t, httplib::DataSink& sink) {
                                    if (offset == 0) sink.write("{\"citizen_id\": ", 15);
                                    return offset == 0;
                                  });
  });
  server.Get(R"(/big(/.*)?)", [](const httplib::Request&, httplib::Response& response) {
    SendJson(response, Json{{"citizen_id", "001"}, {"full_name", std::string(64 << 10, 'x')}});
  });

  if (port == 0) {
    port_ = server.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0) << "cannot bind 127.0.0.1";
  } else {
    ASSERT_TRUE(server.bind_to_port("127.0.0.1", port)) << "cannot bind 127.0.0.1:" << port;
  }
  thread_ = std::thread([&server] { server.listen_after_bind(); });
  // The socket listens from bind on; waiting for the accept loop only makes Stop() simple.
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (!server.is_running() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_TRUE(server.is_running()) << "the fake API's accept loop did not start";
}

void FakeAgencyApi::Stop() {
  if (server_ == nullptr) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

void FakeAgencyApi::Restart() {
  Stop();
  Serve(port_);
}

void FakeAgencyApi::ReleaseSlow() {
  absl::MutexLock lock(&mutex_);
  if (!release_slow_.HasBeenNotified()) release_slow_.Notify();
}

std::vector<std::string> FakeAgencyApi::targets() const {
  absl::MutexLock lock(&mutex_);
  return targets_;
}

std::vector<std::string> FakeAgencyApi::authorizations() const {
  absl::MutexLock lock(&mutex_);
  return authorizations_;
}

}  // namespace ndx::adapters::testing
