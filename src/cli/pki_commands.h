#ifndef NDX_CLI_PKI_COMMANDS_H_
#define NDX_CLI_PKI_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cli/output.h"

namespace ndx::cli {

// `ndxctl pki ...`: the development PKI, entirely local (no gateway, no profile).

struct PkiInitOptions {
  std::string dir;
  std::string trust_domain;
  int days = 0;  // 0: the default validity of crypto::CaOptions
};
absl::Status PkiInit(const PkiInitOptions& options, CommandContext& context);

struct PkiIssueOptions {
  std::string ca_dir;
  std::string out_dir;
  std::string node;     // "agency/system", or
  std::string gateway;  // a gateway name; exactly one of the two
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  int days = 0;  // 0: the default validity of crypto::LeafOptions
  std::string name = "tls";
};
absl::Status PkiIssue(const PkiIssueOptions& options, CommandContext& context);

struct PkiRenewOptions {
  std::string ca_dir;
  std::string cert;  // the certificate file to renew in place
  int days = 0;      // 0: the default validity of crypto::LeafOptions
};
absl::Status PkiRenew(const PkiRenewOptions& options, CommandContext& context);

struct PkiRevokeOptions {
  std::string ca_dir;
  std::string cert;      // the certificate to revoke
  std::string crl_file;  // when set, the CRL is written there too
  int days = 7;          // the CRL's validity
};
absl::Status PkiRevoke(const PkiRevokeOptions& options, CommandContext& context);

struct PkiCrlOptions {
  std::string ca_dir;
  std::string out;
  int days = 7;
};
absl::Status PkiCrl(const PkiCrlOptions& options, CommandContext& context);

absl::Status PkiShow(const std::string& file, CommandContext& context);

}  // namespace ndx::cli

#endif  // NDX_CLI_PKI_COMMANDS_H_
