#include "gateway/gateway_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "audit/decision_log.h"
#include "common/status_macros.h"
#include "crypto/tls.h"
#include "registry/rocksdb_registry.h"

namespace ndx::gateway {

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    const v1::GatewayConfig& config) {
  std::unique_ptr<GatewayServer> gateway(new GatewayServer());
  NDX_ASSIGN_OR_RETURN(gateway->registry_, registry::OpenRocksDbRegistry(config.data_dir()));
  gateway->admin_ =
      std::make_unique<registry::RegistryAdmin>(gateway->registry_.get(), &Clock::Real());
  std::vector<std::string> operators(config.bootstrap_operators().begin(),
                                     config.bootstrap_operators().end());
  NDX_RETURN_IF_ERROR(gateway->admin_->BootstrapOperators(operators));
  NDX_ASSIGN_OR_RETURN(gateway->audit_, audit::DecisionLog::Open(config.decision_log_file()));

  crypto::TlsFilePaths tls{config.tls().ca_file(), config.tls().cert_file(),
                           config.tls().key_file()};
  NDX_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                       crypto::MakeServerCredentials(tls));
  gateway->adapters_ = std::make_unique<AdapterPool>(tls, config.trust_domain(),
                                                     static_cast<int>(config.max_message_bytes()));
  gateway->exchange_ = std::make_unique<ExchangeService>(
      ExchangeOptions{.trust_domain = config.trust_domain(),
                      .adapter_timeout = absl::Milliseconds(config.adapter_timeout_ms()),
                      .default_page_size = static_cast<int>(config.default_page_size()),
                      .max_page_size = static_cast<int>(config.max_page_size())},
      gateway->registry_.get(), gateway->adapters_.get(), gateway->audit_.get(), &Clock::Real());
  gateway->registry_service_ = std::make_unique<RegistryService>(
      config.trust_domain(), gateway->registry_.get(), gateway->admin_.get(), gateway->audit_.get(),
      &Clock::Real());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address(), credentials, &gateway->port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_message_bytes()));
  builder.SetMaxSendMessageSize(static_cast<int>(config.max_message_bytes()));
  builder.RegisterService(gateway->exchange_.get());
  builder.RegisterService(gateway->registry_service_.get());
  gateway->server_ = builder.BuildAndStart();
  if (gateway->server_ == nullptr || gateway->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen_address(),
                     ": the address is in use or not local (see the log above)"));
  }
  spdlog::info("registry at {} (revision {}), trust domain {}", config.data_dir(),
               gateway->registry_->snapshot()->revision(), config.trust_domain());
  return gateway;
}

GatewayServer::~GatewayServer() { Shutdown(absl::ZeroDuration()); }

void GatewayServer::Shutdown(absl::Duration grace) {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  server_->Wait();
  server_.reset();
}

}  // namespace ndx::gateway
