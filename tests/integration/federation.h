#ifndef NDX_TESTS_INTEGRATION_FEDERATION_H_
#define NDX_TESTS_INTEGRATION_FEDERATION_H_

#include <grpcpp/channel.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crypto/tls.h"
#include "integration/child_process.h"
#include "ndx/v1/adapter.grpc.pb.h"
#include "ndx/v1/exchange.grpc.pb.h"
#include "ndx/v1/registry.grpc.pb.h"
#include "testing/resident_schema.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"

namespace ndx::testing {

// The population register's dataset used by the integration tests.
inline constexpr char kResidents[] = "mops/residents";
inline constexpr char kPopulationNode[] = "mops/population";
inline constexpr char kInsuranceNode[] = "moh/insurance";
inline constexpr char kCivilNode[] = "moj/civil-status";
inline constexpr char kOperatorNode[] = "ndx/ops";
inline constexpr char kAuditorNode[] = "ndx/audit";

// The population register's residents table, in SQL that SQLite and PostgreSQL both run.
inline constexpr char kPopulationSql[] = R"sql(
  CREATE TABLE residents (citizen_id TEXT PRIMARY KEY, full_name TEXT, birth_date TEXT,
                          province TEXT, address TEXT, household_size INTEGER);
  INSERT INTO residents VALUES ('001090000001', 'Nguyen Van An', '1990-04-12', 'hanoi',
                                '12 Hang Bac, Hoan Kiem', 4);
  INSERT INTO residents VALUES ('001090000002', 'Tran Thi Binh', '1985-11-30', 'hanoi',
                                '3 Ly Thuong Kiet', 2);
  INSERT INTO residents VALUES ('079090000003', 'Le Van Cuong', '2001-01-05', 'hcmc',
                                '45 Nguyen Hue, District 1', 1);
  INSERT INTO residents VALUES ('001090000004', 'Pham Thi Dung', '1979-07-21', 'hanoi',
                                '8 Tran Hung Dao', 5);
)sql";

// A small platform on 127.0.0.1 for one test: a fresh PKI (trust domain "ndx.test"), a real
// ndx-gateway process, and a real ndx-adapter process serving mops/residents from SQLite. Every
// process is stopped by the destructor. Not thread-safe.
class Federation {
 public:
  Federation();

  // Starts (or restarts, keeping the registry's data directory) the gateway.
  // `extra_config` is appended to the gateway's text-proto config.
  absl::Status StartGateway(absl::Duration adapter_timeout = absl::Seconds(2),
                            int max_message_bytes = 0, const std::string& extra_config = "");
  // Command-line flags the gateway gets from its next start on (--log_format json).
  void SetGatewayFlags(std::vector<std::string> flags) { gateway_flags_ = std::move(flags); }
  // From their next start on, the gateway and the population adapter serve Prometheus metrics
  // on 127.0.0.1 (port 0) to the nodes `scrapers`; their ports are then gateway_metrics_port()
  // and adapter_metrics_port().
  void EnableMetrics(std::vector<std::string> scrapers) { metrics_scrapers_ = std::move(scrapers); }
  int gateway_metrics_port() const { return gateway_metrics_port_; }
  int adapter_metrics_port() const { return adapter_metrics_port_; }
  // Writes the config StartGateway would start the gateway with and returns its path, for a test
  // that starts the gateway in its own process (then UseGatewayAt).
  absl::StatusOr<std::string> WriteGatewayConfig(absl::Duration adapter_timeout = absl::Seconds(2),
                                                 int max_message_bytes = 0,
                                                 const std::string& extra_config = "");
  // Talks to a gateway the test started itself on 127.0.0.1:`port`.
  void UseGatewayAt(int port) { gateway_port_ = port; }
  // SIGTERM; returns the exit status as waitpid reports it (-1 when it was not running).
  int StopGateway() {
    int status = gateway_ ? gateway_->Stop() : -1;
    gateway_.reset();
    return status;
  }
  // SIGKILL, as a crash would.
  void KillGateway() {
    if (gateway_) gateway_->Kill();
    gateway_.reset();
  }
  // The gateway's audit directory (keys, checkpoint, verifier key, log).
  std::string audit_dir() const { return dir_.Join("registry/audit"); }
  int gateway_port() const { return gateway_port_; }
  // The gateway process's id; -1 when it is not running.
  pid_t gateway_pid() const { return gateway_ ? gateway_->pid() : -1; }
  std::string gateway_address() const;
  std::string DecisionLog() const;
  // What the gateway and the population adapter wrote on stderr so far (every start appends).
  std::string GatewayLog() const;
  std::string AdapterLog() const;

  // Starts the population adapter (port kept across restarts when possible).
  // `extra_config` is appended to the adapter's text-proto config.
  absl::Status StartPopulationAdapter(const std::string& extra_config = "");
  // Where the population adapter reads mops/residents from: by default its own SQLite file;
  // `backend` is a DatasetBinding backend in text format (postgresql { connection: "..." }) whose
  // database holds the residents table of kPopulationSql.
  void UsePopulationBackend(std::string backend) { population_backend_ = std::move(backend); }
  void StopPopulationAdapter() { adapter_.reset(); }
  std::string population_endpoint() const;

  // Channels to the gateway with a client identity.
  std::shared_ptr<grpc::Channel> ChannelAs(const std::string& node_id);
  std::shared_ptr<grpc::Channel> ChannelWith(const crypto::TlsFilePaths& files);
  std::unique_ptr<v1::Exchange::Stub> ExchangeAs(const std::string& node_id);
  // Writes an ndxctl profile connecting as `node_id` to the gateway and returns its path.
  std::string WriteProfile(const std::string& node_id);
  std::unique_ptr<v1::Registry::Stub> RegistryAs(const std::string& node_id);

  // Registers mops/population (with `adapter_endpoint`, default the population adapter's),
  // moh/insurance and moj/civil-status as the operator, and mops/residents as its owner.
  absl::Status RegisterNodesAndResidents(std::optional<std::string> adapter_endpoint = {});
  // Registers kAuditorNode, the state audit office, with ROLE_AUDITOR, as the operator.
  absl::Status RegisterAuditor();
  // Requests a grant as `consumer` and, if `approve`, approves it as the dataset's owner. No
  // `operations` means the registry's defaults.
  absl::StatusOr<v1::Grant> Grant(const std::string& consumer, const std::string& dataset,
                                  const std::vector<std::string>& fields,
                                  const std::vector<std::string>& purposes,
                                  absl::Duration valid_for = absl::Hours(24), bool approve = true,
                                  const std::vector<v1::Operation>& operations = {});

  // Revokes `grant_id` as `owner`, the dataset's owner.
  absl::StatusOr<v1::Grant> RevokeGrant(const std::string& owner, const std::string& grant_id,
                                        const std::string& reason);

  TestPki& pki() { return pki_; }
  const TempDir& dir() const { return dir_; }

 private:
  absl::Status WritePopulationDatabase();
  std::vector<std::string> GatewayArgs(const std::string& config_path,
                                       const std::string& port_file) const;
  // The metrics block of a config (empty unless EnableMetrics), and the port a started process
  // wrote to `metrics_port_file`.
  std::string MetricsConfig() const;
  absl::StatusOr<int> MetricsPort(const std::string& metrics_port_file, ChildProcess* process);

  TempDir dir_;
  TestPki pki_;
  std::optional<ChildProcess> gateway_;
  std::optional<ChildProcess> adapter_;
  int gateway_port_ = 0;
  int adapter_port_ = 0;
  int gateway_starts_ = 0;
  int adapter_starts_ = 0;
  std::vector<std::string> gateway_flags_;
  std::vector<std::string> metrics_scrapers_;
  int gateway_metrics_port_ = 0;
  int adapter_metrics_port_ = 0;
  std::string population_backend_ = "sqlite { path: \"population.db\" }";
};

// A deadline `timeout` from now for a client call.
void SetTimeout(grpc::ClientContext* context, absl::Duration timeout);

// Exchange.Get of mops/residents `key` for `purpose` on `exchange`, with a 10 s deadline; the
// certificate the gateway presented into `server_pem` when given.
grpc::Status GetResident(v1::Exchange::Stub& exchange, const std::string& key,
                         const std::string& purpose, v1::GetResponse* response = nullptr,
                         std::string* server_pem = nullptr);

// Adapter.Fetch of the full_name of mops/residents `key` from the adapter at `endpoint`, on a new
// connection presenting `files` as they are (PresentingAsIs); the certificate the adapter
// presented into `server_pem` when given.
grpc::Status FetchResident(const std::string& endpoint, const crypto::TlsFilePaths& files,
                           const std::string& key, std::string* server_pem = nullptr);

}  // namespace ndx::testing

#endif  // NDX_TESTS_INTEGRATION_FEDERATION_H_
