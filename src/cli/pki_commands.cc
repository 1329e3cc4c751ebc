#include "cli/pki_commands.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/cli_status.h"
#include "cli/table.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "crypto/pki.h"
#include "crypto/revocation.h"

namespace ndx::cli {

absl::Status PkiInit(const PkiInitOptions& options, CommandContext& context) {
  crypto::CaOptions ca;
  ca.trust_domain = options.trust_domain;
  if (options.days > 0) ca.validity = absl::Hours(24) * options.days;
  NDX_RETURN_IF_ERROR(crypto::CreateCa(options.dir, ca));

  const std::string cert = options.dir + "/ca.pem";
  const std::string key = options.dir + "/ca.key";
  if (context.json()) {
    nlohmann::ordered_json json = {
        {"trust_domain", options.trust_domain}, {"ca_cert", cert}, {"ca_key", key}};
    context.out() << json.dump(2) << '\n';
  } else {
    context.out() << "created the CA of trust domain " << options.trust_domain << ":\n";
    PrintKeyValues(context.out(), {{"certificate", cert}, {"private key", key}});
  }
  return absl::OkStatus();
}

absl::Status PkiIssue(const PkiIssueOptions& options, CommandContext& context) {
  if (options.node.empty() == options.gateway.empty()) {
    return UsageError("give exactly one of --node AGENCY/SYSTEM and --gateway NAME");
  }
  if (!options.node.empty()) {
    if (absl::Status valid = ValidateNodeId(options.node); !valid.ok()) {
      return UsageError(absl::StrCat("--node: ", valid.message()));
    }
  } else if (!IsValidSegment(options.gateway)) {
    return UsageError(absl::StrCat("--gateway \"", options.gateway,
                                   "\" is not a gateway name (1 to 63 of [a-z0-9-], starting "
                                   "with a letter or digit)"));
  }
  NDX_ASSIGN_OR_RETURN(std::string trust_domain, TrustDomainOfCaFile(options.ca_dir + "/ca.pem"));

  crypto::LeafOptions leaf;
  leaf.identity = options.node.empty() ? crypto::SpiffeId::Gateway(trust_domain, options.gateway)
                                       : crypto::SpiffeId::Node(trust_domain, options.node);
  leaf.dns_names = options.dns_names;
  leaf.ip_addresses = options.ip_addresses;
  if (options.days > 0) leaf.validity = absl::Hours(24) * options.days;
  NDX_RETURN_IF_ERROR(
      crypto::IssueCertificate(options.ca_dir, options.out_dir, options.name, leaf));

  const std::string identity = leaf.identity.ToString();
  const std::string cert = absl::StrCat(options.out_dir, "/", options.name, ".pem");
  const std::string key = absl::StrCat(options.out_dir, "/", options.name, ".key");
  const std::string ca = options.out_dir + "/ca.pem";
  if (context.json()) {
    nlohmann::ordered_json json = {
        {"identity", identity}, {"cert", cert}, {"key", key}, {"ca_cert", ca}};
    context.out() << json.dump(2) << '\n';
  } else {
    context.out() << "issued " << identity << ":\n";
    PrintKeyValues(context.out(), {{"certificate", cert}, {"private key", key}, {"CA", ca}});
  }
  return absl::OkStatus();
}

absl::Status PkiRenew(const PkiRenewOptions& options, CommandContext& context) {
  crypto::LeafOptions defaults;
  absl::Duration validity = options.days > 0 ? absl::Hours(24) * options.days : defaults.validity;
  NDX_ASSIGN_OR_RETURN(std::string pem,
                       crypto::RenewCertificate(options.ca_dir, options.cert, validity));
  NDX_ASSIGN_OR_RETURN(crypto::CertificateInfo info, crypto::InspectCertificate(pem));
  const std::string identity = info.uris.empty() ? info.subject : info.uris.front();
  const std::string expires = FormatUtc(info.not_after);
  if (context.json()) {
    nlohmann::ordered_json json = {{"identity", identity},
                                   {"cert", options.cert},
                                   {"not_after", expires},
                                   {"sha256_fingerprint", info.sha256_fingerprint}};
    context.out() << json.dump(2) << '\n';
  } else {
    context.out() << "renewed " << identity << " in place (same key):\n";
    PrintKeyValues(context.out(), {{"certificate", options.cert},
                                   {"valid until", expires},
                                   {"SHA-256", info.sha256_fingerprint}});
  }
  return absl::OkStatus();
}

absl::Status PkiCrl(const PkiCrlOptions& options, CommandContext& context) {
  NDX_ASSIGN_OR_RETURN(int revoked,
                       crypto::WriteRevocationList(options.ca_dir, options.out,
                                                   absl::Hours(24) * options.days, absl::Now()));
  if (context.json()) {
    nlohmann::ordered_json json = {
        {"crl", options.out}, {"revoked", revoked}, {"valid_days", options.days}};
    context.out() << json.dump(2) << '\n';
  } else {
    context.out() << "wrote " << options.out << ": " << revoked << " revoked, valid for "
                  << options.days << " days; gateways and adapters reload it within seconds\n";
  }
  return absl::OkStatus();
}

absl::Status PkiRevoke(const PkiRevokeOptions& options, CommandContext& context) {
  NDX_ASSIGN_OR_RETURN(std::string pem, ReadFile(options.cert));
  NDX_ASSIGN_OR_RETURN(std::string serial, crypto::CertificateSerial(pem));
  NDX_RETURN_IF_ERROR(crypto::RevokeCertificate(options.ca_dir, options.cert, absl::Now()));
  if (!context.json()) {
    context.out() << "revoked " << options.cert << " (serial " << serial << ") in "
                  << options.ca_dir << "/revoked.txt\n";
  }
  if (options.crl_file.empty()) {
    if (context.json()) {
      context.out() << nlohmann::ordered_json({{"serial", serial}}).dump(2) << '\n';
    } else {
      context.out() << "the CRL lists it once it is written: ndxctl pki crl --ca-dir "
                    << options.ca_dir << " --out FILE\n";
    }
    return absl::OkStatus();
  }
  return PkiCrl({.ca_dir = options.ca_dir, .out = options.crl_file, .days = options.days}, context);
}

absl::Status PkiShow(const std::string& file, CommandContext& context) {
  NDX_ASSIGN_OR_RETURN(std::string pem, ReadFile(file));
  absl::StatusOr<crypto::CertificateInfo> info = crypto::InspectCertificate(pem);
  if (!info.ok()) {
    return absl::Status(info.status().code(), absl::StrCat(file, ": ", info.status().message()));
  }
  if (context.json()) {
    nlohmann::ordered_json json = {
        {"subject", info->subject},
        {"uris", info->uris},
        {"dns_names", info->dns_names},
        {"ip_addresses", info->ip_addresses},
        {"not_before", FormatUtc(info->not_before)},
        {"not_after", FormatUtc(info->not_after)},
        {"is_ca", info->is_ca},
        {"sha256_fingerprint", info->sha256_fingerprint},
    };
    context.out() << json.dump(2) << '\n';
  } else {
    PrintKeyValues(context.out(), {
                                      {"subject", info->subject},
                                      {"uri", absl::StrJoin(info->uris, ", ")},
                                      {"dns", absl::StrJoin(info->dns_names, ", ")},
                                      {"ip", absl::StrJoin(info->ip_addresses, ", ")},
                                      {"not before", FormatUtc(info->not_before)},
                                      {"not after", FormatUtc(info->not_after)},
                                      {"ca", info->is_ca ? "yes" : "no"},
                                      {"sha256", info->sha256_fingerprint},
                                  });
  }
  return absl::OkStatus();
}

}  // namespace ndx::cli
