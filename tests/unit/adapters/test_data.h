#ifndef NDX_TESTS_UNIT_ADAPTERS_TEST_DATA_H_
#define NDX_TESTS_UNIT_ADAPTERS_TEST_DATA_H_

#include <cstdint>
#include <memory>
#include <string>

#include "adapters/adapter_config.h"
#include "google/protobuf/message.h"
#include "ndx/v1/config.pb.h"
#include "testing/temp_dir.h"

namespace ndx::adapters::testing {

// A population register for the adapter tests, made in a TempDir: person.proto (pop.v1.Person,
// pop.v1.Household), pop.db (tables "people" and "households") and an AdapterConfig binding
// "pop/people" and "pop/households" with paths relative to adapter.textproto.
//
// people: "001" (every column set), "002" (NULLs, enum stored as a number, time as seconds),
// "003" (SQLite's own time format), "100".."124" (province "DN", for paging) and "999", whose
// birth_year column holds text that is not a number.
// Failures add a gtest failure. Not thread-safe.
class PopulationData {
 public:
  static constexpr int kPagingRows = 25;

  PopulationData();

  const std::string& dir() const { return dir_.path(); }
  std::string config_path() const { return dir_.Join("adapter.textproto"); }
  std::string db_path() const { return dir_.Join("pop.db"); }
  // The config as a message (TLS files are placeholders) and as it would be written.
  v1::AdapterConfig Config() const;

  // Runs SQL on the database with a read-write connection.
  void Exec(const std::string& sql) const;
  // The first column of the first row of `sql`, as an integer.
  int64_t QueryInt(const std::string& sql) const;

 private:
  ndx::testing::TempDir dir_;
};

// The record parsed as a message of the dataset's type.
std::unique_ptr<google::protobuf::Message> ParseRecord(const ServedDataset& dataset,
                                                       const std::string& record);
// The value of a string field by name, "" when unset.
std::string StringField(const google::protobuf::Message& message, const std::string& name);

}  // namespace ndx::adapters::testing

#endif  // NDX_TESTS_UNIT_ADAPTERS_TEST_DATA_H_
