#include "cli_runner.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "cli/cli.h"

namespace ndx::cli {

nlohmann::ordered_json ParseJson(const std::string& text) {
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(text, nullptr, false);
  EXPECT_FALSE(json.is_discarded()) << "not JSON: " << text;
  return json;
}

CliResult RunNdxctl(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"ndxctl"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out;
  std::ostringstream err;
  CliResult result;
  result.exit_code = RunCli(static_cast<int>(argv.size()), argv.data(), out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

std::ostream& operator<<(std::ostream& os, const CliResult& result) {
  return os << "exit " << result.exit_code << "\n--- stdout\n"
            << result.out << "--- stderr\n"
            << result.err;
}

ScopedEnv::ScopedEnv(const char* name, const char* value) : name_(name) {
  if (const char* old = std::getenv(name); old != nullptr) {
    had_value_ = true;
    old_value_ = old;
  }
  if (value == nullptr) {
    ::unsetenv(name);
  } else {
    ::setenv(name, value, 1);
  }
}

ScopedEnv::~ScopedEnv() {
  if (had_value_) {
    ::setenv(name_.c_str(), old_value_.c_str(), 1);
  } else {
    ::unsetenv(name_.c_str());
  }
}

}  // namespace ndx::cli
