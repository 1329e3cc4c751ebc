#ifndef NDX_TESTS_INTEGRATION_RESIDENT_RECORD_H_
#define NDX_TESTS_INTEGRATION_RESIDENT_RECORD_H_

#include <map>
#include <string>
#include <vector>

#include "google/protobuf/any.pb.h"

namespace ndx::testing {

// The names of the fields set in a population.v1.Resident record returned by the gateway, and,
// when `values` is given, the values of its string fields. Fails the test when the record is not
// a Resident or carries fields outside the schema.
std::vector<std::string> ResidentFields(const google::protobuf::Any& record,
                                        std::map<std::string, std::string>* values = nullptr);

}  // namespace ndx::testing

#endif  // NDX_TESTS_INTEGRATION_RESIDENT_RECORD_H_
