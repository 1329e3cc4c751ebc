#ifndef NDX_TESTS_UNIT_CLI_CLI_RUNNER_H_
#define NDX_TESTS_UNIT_CLI_CLI_RUNNER_H_

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace ndx::cli {

// What one ndxctl run printed and returned.
struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs RunCli with "ndxctl" followed by `args`.
CliResult RunNdxctl(const std::vector<std::string>& args);

// `text` parsed as JSON, keeping the order of object members; a failed expectation (and a
// discarded value) when it is not JSON.
nlohmann::ordered_json ParseJson(const std::string& text);

// Prints a result in test failure messages.
std::ostream& operator<<(std::ostream& os, const CliResult& result);

// Sets (or, with nullptr, unsets) an environment variable for the lifetime of the object and
// puts the previous value back. Not thread-safe, like the environment itself.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  bool had_value_ = false;
  std::string old_value_;
};

}  // namespace ndx::cli

#endif  // NDX_TESTS_UNIT_CLI_CLI_RUNNER_H_
