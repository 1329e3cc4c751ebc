#ifndef NDX_TESTS_TESTING_RESIDENT_SCHEMA_H_
#define NDX_TESTS_TESTING_RESIDENT_SCHEMA_H_

namespace ndx::testing {

// The schema of the population register's dataset mops/residents, shared by the tests that need
// a realistic dataset (the CLI's fake gateway, the integration federation).
inline constexpr char kResidentProto[] = R"(syntax = "proto3";
package population.v1;
message Resident {
  string citizen_id = 1;
  string full_name = 2;
  string birth_date = 3;
  string province = 4;
  string address = 5;
  int64 household_size = 6;
}
)";

}  // namespace ndx::testing

#endif  // NDX_TESTS_TESTING_RESIDENT_SCHEMA_H_
