#ifndef NDX_TESTS_UNIT_CLI_FAKE_GATEWAY_H_
#define NDX_TESTS_UNIT_CLI_FAKE_GATEWAY_H_

#include <grpcpp/server.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "ndx/v1/exchange.grpc.pb.h"
#include "ndx/v1/registry.grpc.pb.h"
#include "testing/resident_schema.h"
#include "testing/test_pki.h"

namespace ndx::cli {

using ::ndx::testing::kResidentProto;

// An in-process gateway on 127.0.0.1 (port 0) serving Registry and Exchange over mTLS with the
// identity spiffe://ndx.test/gateway/core from a TestPki, answering from fixed data:
//   - GetDataset("mops/residents") gives the dataset above; any other id is NOT_FOUND.
//   - ListNodes gives two nodes; RegisterNode, RegisterDataset, RequestGrant echo their request.
//   - Get: purpose "denied" is PERMISSION_DENIED; key "slow" answers after 1.5 s; key
//     "wrong-type" answers a record of another type; otherwise the record of that key with
//     fields citizen_id, full_name, household_size (household_size = 0) and an address that is
//     not in the returned fields.
//   - Query: three records in two pages (2 then 1), next_page_token "page-2".
// Records the last requests for the tests to inspect. Thread-safe.
class FakeGateway {
 public:
  explicit FakeGateway(testing::TestPki& pki);
  ~FakeGateway();

  std::string address() const;
  // Global ndxctl flags connecting as `node_id` (placed before the command).
  std::vector<std::string> FlagsAs(const std::string& node_id);

  v1::RegisterDatasetRequest last_register_dataset() const;
  v1::RequestGrantRequest last_request_grant() const;
  v1::RegisterNodeRequest last_register_node() const;
  std::vector<v1::QueryRequest> queries() const;

  class RegistryImpl;
  class ExchangeImpl;

 private:
  testing::TestPki& pki_;
  std::unique_ptr<RegistryImpl> registry_;
  std::unique_ptr<ExchangeImpl> exchange_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace ndx::cli

#endif  // NDX_TESTS_UNIT_CLI_FAKE_GATEWAY_H_
