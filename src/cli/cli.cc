#include "cli/cli.h"

#include <grpc/support/log.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <exception>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/audit_commands.h"
#include "cli/cli_status.h"
#include "cli/events_commands.h"
#include "cli/exchange_commands.h"
#include "cli/gateway_client.h"
#include "cli/output.h"
#include "cli/pki_commands.h"
#include "cli/profile.h"
#include "cli/registry_commands.h"

namespace ndx::cli {
namespace {

constexpr char kGlobalGroup[] = "Global options";

constexpr char kMainFooter[] = R"(Examples:
  ndxctl pki init --dir pki/ca --trust-domain ndx.gov.vn
  ndxctl --profile insurance.textproto get mops/residents 001090000001 --purpose health-insurance-enrolment
  ndxctl node list --output json
  ndxctl audit query --subject 001090000001 --all
  ndxctl events subscribe moj/births --purpose permanent-residence-registration --exec reactions/population.sh

Connection: --profile F (else $NDX_PROFILE, else ~/.config/ndx/profile.textproto); the flags
--gateway, --gateway-id, --ca, --cert, --key and --timeout override it. The gateway's name
(gateway_id or --gateway-id) is required: ndxctl refuses any other server.

Exit codes:
  0        success
  2        usage error (unknown flag, missing or malformed value)
  3        local error (file unreadable, bad profile, PKI error, undecodable record)
  4        audit verify: the log failed verification (the trusted state is kept)
  5        events subscribe: the --exec handler failed; the event was not acknowledged
  10 + N   the gateway call failed with gRPC status code N, e.g. 13 INVALID_ARGUMENT,
           14 DEADLINE_EXCEEDED, 15 NOT_FOUND, 17 PERMISSION_DENIED, 24 UNAVAILABLE
Errors are printed on stderr as "ndxctl: <CODE_NAME>: <message>".)";

// Flags shared by every command; bound on the main command and on each leaf command, so that
// they may be given before or after the command name.
struct GlobalFlags {
  ConnectionFlags connection;
  std::string output = "table";
};

// Which global options a leaf command takes.
enum class GlobalScope {
  kLocal,               // --output only: the command does not talk to the gateway
  kConnectsKeyIsField,  // all but --key, which `dataset register` uses for its key field
  kConnects,            // all
};

// With `csv`, --output also takes csv (commands printing rows: audit query).
void AddGlobalOptions(CLI::App* app, GlobalFlags* flags, GlobalScope scope, bool csv = false) {
  app->add_option("--output", flags->output,
                  csv ? "table (default), json or csv" : "table (default) or json")
      ->check((csv ? CLI::IsMember({"table", "json", "csv"}) : CLI::IsMember({"table", "json"}))
                  .description(""))
      ->type_name("FORMAT")
      ->group(kGlobalGroup);
  if (scope == GlobalScope::kLocal) return;
  ConnectionFlags& c = flags->connection;
  app->add_option("--profile", c.profile, "CliProfile text proto with the connection settings")
      ->type_name("FILE")
      ->group(kGlobalGroup);
  app->add_option("--gateway", c.gateway, "Gateway address")
      ->type_name("HOST:PORT")
      ->group(kGlobalGroup);
  app->add_option("--ca", c.ca_file, "CA certificate (PEM) the gateway must chain to")
      ->type_name("FILE")
      ->group(kGlobalGroup);
  app->add_option("--cert", c.cert_file, "This node's certificate (PEM)")
      ->type_name("FILE")
      ->group(kGlobalGroup);
  if (scope == GlobalScope::kConnects) {
    app->add_option("--key", c.key_file, "This node's private key (PEM, mode 0600)")
        ->type_name("FILE")
        ->group(kGlobalGroup);
  }
  app->add_option_function<int64_t>(
         "--timeout", [&c](const int64_t& ms) { c.timeout_ms = ms; },
         "Call deadline in milliseconds (default 10000)")
      ->check(CLI::Range(int64_t{1}, int64_t{3600000}).description(""))
      ->type_name("MS")
      ->group(kGlobalGroup);
  app->add_option("--gateway-id", c.gateway_id,
                  "The gateway's name: its certificate must be spiffe://<CA trust "
                  "domain>/gateway/NAME (overrides the profile's gateway_id)")
      ->type_name("NAME")
      ->group(kGlobalGroup);
}

// One repeatable option taking one value per occurrence, so that a following positional
// argument is never swallowed.
template <typename T>
CLI::Option* AddRepeated(CLI::App* app, const std::string& name, std::vector<T>& values,
                         const std::string& description) {
  return app->add_option(name, values, description)->allow_extra_args(false);
}

// The leaf commands and what each runs.
class CommandTable {
 public:
  using Action = std::function<absl::Status(CommandContext&)>;

  CommandTable(CLI::App* root, GlobalFlags* flags) : root_(root), flags_(flags) {}

  // A command group such as "node"; it requires one of its commands.
  CLI::App* Group(CLI::App* parent, const std::string& name, const std::string& description) {
    CLI::App* group = parent->add_subcommand(name, description);
    group->require_subcommand(1);
    return group;
  }

  // A leaf command running `action`; it accepts the global options of `scope` too (and
  // --output csv with `csv`).
  CLI::App* Leaf(CLI::App* parent, const std::string& name, const std::string& description,
                 Action action, GlobalScope scope = GlobalScope::kConnects, bool csv = false) {
    CLI::App* leaf = parent->add_subcommand(name, description);
    AddGlobalOptions(leaf, flags_, scope, csv);
    leaves_.emplace_back(leaf, std::move(action));
    return leaf;
  }

  // The action of the command given on the command line, or nullptr.
  const Action* Selected() const {
    for (const auto& [leaf, action] : leaves_) {
      if (leaf->parsed()) return &action;
    }
    return nullptr;
  }

  CLI::App* root() { return root_; }
  GlobalFlags* flags() { return flags_; }

 private:
  CLI::App* root_;
  GlobalFlags* flags_;
  std::vector<std::pair<CLI::App*, Action>> leaves_;
};

// Options of every command; they outlive parsing, the actions read them.
struct AllOptions {
  PkiInitOptions pki_init;
  PkiIssueOptions pki_issue;
  PkiRenewOptions pki_renew;
  PkiRevokeOptions pki_revoke;
  PkiCrlOptions pki_crl;
  std::string pki_show_file;
  NodeRegisterOptions node_register;
  std::string node_id;
  std::string dataset_owner;
  DatasetRegisterOptions dataset_register;
  std::string dataset_id;
  GrantRequestOptions grant_request;
  std::string grant_id;
  GrantRateOptions grant_rate;
  std::string revoke_reason;
  GrantListOptions grant_list;
  GetOptions get;
  QueryOptions query;
  AuditQueryOptions audit_query;
  bool audit_sign_now = false;
  AuditVerifyOptions audit_verify;
  AuditExportOptions audit_export;
  PublishOptions events_publish;
  SubscribeOptions events_subscribe;
  AckOptions events_ack;
  std::string events_dataset;
};

// The connection settings of the flags and the profile they select.
absl::StatusOr<ConnectionSettings> ResolveSettings(const ConnectionFlags& connection) {
  std::string profile =
      FindProfilePath(connection.profile, std::getenv("NDX_PROFILE"), std::getenv("HOME"));
  return ResolveConnection(connection, profile, GatewayIdentity::kRequired);
}

// Connects the Audit service with the connection flags as parsed when it runs.
AuditConnector AuditConnectorFor(const GlobalFlags* flags) {
  return [flags]() -> absl::StatusOr<std::unique_ptr<GatewayClient>> {
    absl::StatusOr<ConnectionSettings> settings = ResolveSettings(flags->connection);
    if (!settings.ok()) return settings.status();
    return GatewayClient::Connect(*settings);
  };
}

void AddPkiCommands(CommandTable& table, AllOptions& o) {
  CLI::App* pki = table.Group(table.root(), "pki", "Development PKI: CA and certificates (local)");

  CLI::App* init = table.Leaf(
      pki, "init", "Create the platform CA (ca.pem, ca.key) in a directory",
      [&o](CommandContext& c) { return PkiInit(o.pki_init, c); }, GlobalScope::kLocal);
  init->add_option("--dir", o.pki_init.dir, "Directory for ca.pem and ca.key")->required();
  init->add_option("--trust-domain", o.pki_init.trust_domain, "Trust domain, e.g. ndx.gov.vn")
      ->required();
  init->add_option("--days", o.pki_init.days, "Validity in days (default 5 years)")
      ->check(CLI::Range(1, 36500));
  init->footer("Example:\n  ndxctl pki init --dir pki/ca --trust-domain ndx.gov.vn");

  CLI::App* issue = table.Leaf(
      pki, "issue", "Issue a node or gateway certificate signed by the CA",
      [&o](CommandContext& c) { return PkiIssue(o.pki_issue, c); }, GlobalScope::kLocal);
  issue->add_option("--ca-dir", o.pki_issue.ca_dir, "Directory of the CA (pki init --dir)")
      ->required();
  issue
      ->add_option("--out-dir", o.pki_issue.out_dir, "Directory for <name>.pem, <name>.key, ca.pem")
      ->required();
  CLI::Option* node =
      issue->add_option("--node", o.pki_issue.node, "Node id AGENCY/SYSTEM, e.g. moh/insurance");
  CLI::Option* gateway = issue->add_option("--gateway", o.pki_issue.gateway, "Gateway name");
  node->excludes(gateway);
  AddRepeated(issue, "--dns", o.pki_issue.dns_names, "Extra DNS SAN (repeatable)");
  AddRepeated(issue, "--ip", o.pki_issue.ip_addresses, "Extra IP SAN (repeatable)");
  issue->add_option("--days", o.pki_issue.days, "Validity in days (default 365)")
      ->check(CLI::Range(1, 36500));
  issue->add_option("--name", o.pki_issue.name, "Base name of the files (default tls)");
  issue->footer(
      "Examples:\n"
      "  ndxctl pki issue --ca-dir pki/ca --out-dir pki/insurance --node moh/insurance\n"
      "  ndxctl pki issue --ca-dir pki/ca --out-dir pki/gateway --gateway core --ip 127.0.0.1");

  CLI::App* renew = table.Leaf(
      pki, "renew", "Renew a certificate in place: same key and identity, new serial and validity",
      [&o](CommandContext& c) { return PkiRenew(o.pki_renew, c); }, GlobalScope::kLocal);
  renew->add_option("--ca-dir", o.pki_renew.ca_dir, "Directory of the CA that signed it")
      ->required();
  renew->add_option("cert", o.pki_renew.cert, "Certificate file (PEM), rewritten atomically")
      ->required();
  renew->add_option("--days", o.pki_renew.days, "Validity in days from now (default 365)")
      ->check(CLI::Range(1, 36500));
  renew->footer(
      "Running gateways, adapters and subscribers present the renewed certificate from their "
      "next connection on, without a restart.\n"
      "Example:\n  ndxctl pki renew --ca-dir pki/ca pki/insurance/tls.pem --days 90");

  CLI::App* revoke = table.Leaf(
      pki, "revoke", "Revoke a certificate: record it in the CA's revoked.txt (and write the CRL)",
      [&o](CommandContext& c) { return PkiRevoke(o.pki_revoke, c); }, GlobalScope::kLocal);
  revoke->add_option("--ca-dir", o.pki_revoke.ca_dir, "Directory of the CA that signed it")
      ->required();
  revoke->add_option("cert", o.pki_revoke.cert, "Certificate file (PEM) to revoke")->required();
  revoke->add_option("--crl", o.pki_revoke.crl_file, "Also write the CRL to this file");
  revoke->add_option("--days", o.pki_revoke.days, "Validity of the CRL in days (default 7)")
      ->check(CLI::Range(1, 365));
  revoke->footer(
      "Example:\n  ndxctl pki revoke --ca-dir pki/ca pki/insurance/tls.pem --crl pki/crl.pem");

  CLI::App* crl = table.Leaf(
      pki, "crl", "Write the CA's certificate revocation list, signed, valid for --days",
      [&o](CommandContext& c) { return PkiCrl(o.pki_crl, c); }, GlobalScope::kLocal);
  crl->add_option("--ca-dir", o.pki_crl.ca_dir, "Directory of the CA")->required();
  crl->add_option("--out", o.pki_crl.out, "CRL file to write (PEM, atomically)")->required();
  crl->add_option("--days", o.pki_crl.days, "Validity in days (default 7): reissue before then")
      ->check(CLI::Range(1, 365));
  crl->footer("Example:\n  ndxctl pki crl --ca-dir pki/ca --out pki/crl.pem --days 7");

  CLI::App* show = table.Leaf(
      pki, "show", "Print what a certificate says",
      [&o](CommandContext& c) { return PkiShow(o.pki_show_file, c); }, GlobalScope::kLocal);
  show->add_option("file", o.pki_show_file, "Certificate file (PEM)")->required();
}

void AddNodeCommands(CommandTable& table, AllOptions& o) {
  CLI::App* node = table.Group(table.root(), "node", "Nodes: the agencies' systems (Registry)");

  CLI::App* reg = table.Leaf(node, "register", "Register or update a node (operators only)",
                             [&o](CommandContext& c) { return NodeRegister(o.node_register, c); });
  reg->add_option("id", o.node_register.id, "Node id AGENCY/SYSTEM")->required();
  reg->add_option("--name", o.node_register.name, "Display name")->required();
  reg->add_option("--kind", o.node_register.kind, "ministry, province or other")->required();
  reg->add_option("--endpoint", o.node_register.endpoint, "Adapter address HOST:PORT");
  AddRepeated(reg, "--role", o.node_register.roles, "operator or auditor (repeatable)");
  reg->add_flag("--suspended", o.node_register.suspended, "Register the node suspended");
  reg->footer(
      "Example:\n  ndxctl node register mops/population --name \"Population register\" "
      "--kind ministry --endpoint 10.0.0.5:9101");

  CLI::App* get = table.Leaf(node, "get", "Show one node",
                             [&o](CommandContext& c) { return NodeGet(o.node_id, c); });
  get->add_option("id", o.node_id, "Node id AGENCY/SYSTEM")->required();

  table.Leaf(node, "list", "List the nodes", [](CommandContext& c) { return NodeList(c); });
}

void AddDatasetCommands(CommandTable& table, AllOptions& o) {
  CLI::App* dataset = table.Group(table.root(), "dataset", "Datasets and their schemas (Registry)");

  DatasetRegisterOptions& r = o.dataset_register;
  CLI::App* reg = table.Leaf(
      dataset, "register", "Register a dataset of the caller's agency from a .proto",
      [&o](CommandContext& c) { return DatasetRegister(o.dataset_register, c); },
      GlobalScope::kConnectsKeyIsField);
  reg->add_option("id", r.id, "Dataset id AGENCY/NAME")->required();
  reg->add_option("--proto", r.proto_file, ".proto file holding the record's message")->required();
  reg->add_option("--message", r.message_type, "Fully-qualified message type")->required();
  reg->add_option("--key", r.key_field, "Key field")->required();
  reg->add_option("--subject", r.subject_field, "Field holding the citizen identifier");
  AddRepeated(reg, "--class", r.classes,
              "FIELD=open|internal|personal|sensitive (repeatable; default personal)");
  reg->add_option("--description", r.description, "What the dataset holds");
  reg->footer(
      "Here --key names the key field; give the client key in the profile or before the command\n"
      "(ndxctl --key F dataset register ...).\n\n"
      "Example:\n  ndxctl dataset register mops/residents --proto resident.proto "
      "--message population.v1.Resident --key citizen_id --subject citizen_id "
      "--class province=open");

  CLI::App* list = table.Leaf(dataset, "list", "List the datasets",
                              [&o](CommandContext& c) { return DatasetList(o.dataset_owner, c); });
  list->add_option("--owner", o.dataset_owner, "Only the datasets of this owner node");

  CLI::App* describe =
      table.Leaf(dataset, "describe", "Show a dataset and its fields",
                 [&o](CommandContext& c) { return DatasetDescribe(o.dataset_id, c); });
  describe->add_option("id", o.dataset_id, "Dataset id AGENCY/NAME")->required();
}

void AddGrantCommands(CommandTable& table, AllOptions& o) {
  CLI::App* grant = table.Group(table.root(), "grant", "Grants: who may read which fields, why");

  GrantRequestOptions& r = o.grant_request;
  CLI::App* request =
      table.Leaf(grant, "request", "Ask the owner for a grant; prints the grant id",
                 [&o](CommandContext& c) { return GrantRequest(o.grant_request, c); });
  request->add_option("--dataset", r.dataset, "Dataset id AGENCY/NAME")->required();
  request->add_option("--fields", r.fields, "Comma-separated fields, e.g. full_name,birth_date")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->required();
  AddRepeated(request, "--purpose", r.purposes, "Legal basis of the reads (repeatable)")
      ->required();
  request
      ->add_option("--operations", r.operations,
                   "Comma-separated: read, query, export (a query without filters), subscribe; "
                   "default read,query,subscribe")
      ->delimiter(',')
      ->allow_extra_args(false);
  CLI::Option* expires =
      request->add_option("--expires", r.expires, "Expiry, RFC 3339 (2026-12-31T23:59:59Z)");
  CLI::Option* days =
      request->add_option("--days", r.days, "Expiry in days from now")->check(CLI::Range(1, 36500));
  expires->excludes(days);
  request->add_option("--justification", r.justification, "Why, for the owner");
  request->add_option("--rate", r.rate,
                      "Calls per second asked for (e.g. 10, or 0.5); default no rate limit");
  request->add_option("--burst", r.burst,
                      "Calls allowed at once, with --rate; default one second's worth");
  request->footer(
      "Example:\n  ndxctl grant request --dataset mops/residents --fields full_name,birth_date "
      "--purpose health-insurance-enrolment --days 365");

  GrantRateOptions& rate = o.grant_rate;
  CLI::App* approve = table.Leaf(grant, "approve", "Approve a grant (the dataset's owner)",
                                 [&o](CommandContext& c) { return GrantApprove(o.grant_rate, c); });
  approve->add_option("id", rate.grant_id, "Grant id")->required();
  approve->add_option("--rate", rate.rate,
                      "Calls per second, replacing the rate the consumer asked for");
  approve->add_option("--burst", rate.burst,
                      "Calls allowed at once, with --rate; default one second's worth");

  CLI::App* set_rate = table.Leaf(
      grant, "set-rate", "Set, change or remove a grant's rate limit (the dataset's owner)",
      [&o](CommandContext& c) { return GrantSetRate(o.grant_rate, c); });
  set_rate->add_option("id", rate.grant_id, "Grant id")->required();
  set_rate->add_option("--rate", rate.rate, "Calls per second, e.g. 10, or 0.5");
  set_rate->add_option("--burst", rate.burst,
                       "Calls allowed at once, with --rate; default one second's worth");
  set_rate->add_flag("--none", rate.none, "Remove the limit");

  CLI::App* revoke =
      table.Leaf(grant, "revoke", "Revoke a grant (the dataset's owner or an operator)",
                 [&o](CommandContext& c) { return GrantRevoke(o.grant_id, o.revoke_reason, c); });
  revoke->add_option("id", o.grant_id, "Grant id")->required();
  revoke->add_option("--reason", o.revoke_reason, "Why, recorded in the grant");

  table
      .Leaf(grant, "get", "Show one grant",
            [&o](CommandContext& c) { return GrantGet(o.grant_id, c); })
      ->add_option("id", o.grant_id, "Grant id")
      ->required();

  CLI::App* list = table.Leaf(grant, "list", "List the grants the caller may see",
                              [&o](CommandContext& c) { return GrantList(o.grant_list, c); });
  list->add_option("--consumer", o.grant_list.consumer, "Only this consumer node");
  list->add_option("--dataset", o.grant_list.dataset, "Only this dataset");
  list->add_option("--state", o.grant_list.state, "requested, approved or revoked");
}

void AddExchangeCommands(CommandTable& table, AllOptions& o) {
  CLI::App* get = table.Leaf(table.root(), "get", "Read one record by key (Exchange.Get)",
                             [&o](CommandContext& c) { return Get(o.get, c); });
  get->add_option("dataset", o.get.dataset, "Dataset id AGENCY/NAME")->required();
  get->add_option("key", o.get.key, "Value of the dataset's key field")->required();
  get->add_option("--purpose", o.get.purpose, "Legal basis of the read")->required();
  get->add_option("--fields", o.get.fields, "Comma-separated fields (default: all granted)")
      ->delimiter(',')
      ->allow_extra_args(false);
  get->footer(
      "Example:\n  ndxctl get mops/residents 001090000001 --purpose health-insurance-enrolment "
      "--fields full_name,birth_date");

  QueryOptions& q = o.query;
  CLI::App* query =
      table.Leaf(table.root(), "query", "Read the records whose fields equal values (Query)",
                 [&o](CommandContext& c) { return Query(o.query, c); });
  query->add_option("dataset", q.dataset, "Dataset id AGENCY/NAME")->required();
  AddRepeated(query, "--where", q.where, "FIELD=VALUE (repeatable, all must hold)")->required();
  query->add_option("--purpose", q.purpose, "Legal basis of the read")->required();
  query->add_option("--fields", q.fields, "Comma-separated fields (default: all granted)")
      ->delimiter(',')
      ->allow_extra_args(false);
  query->add_option("--page-size", q.page_size, "Records per page (default: the gateway's)")
      ->check(CLI::Range(0, 1000000));
  query->add_option("--page-token", q.page_token, "next_page_token of the previous page");
  query->add_flag("--all", q.all, "Follow the pages to the end");
  query->footer(
      "Example:\n  ndxctl query mops/residents --where province=hanoi --purpose statistics "
      "--fields citizen_id,full_name --all");
}

void AddAuditCommands(CommandTable& table, AllOptions& o) {
  CLI::App* audit =
      table.Group(table.root(), "audit", "The tamper-evident access log (auditors only)");
  GlobalFlags* flags = table.flags();

  AuditQueryOptions& q = o.audit_query;
  CLI::App* query = table.Leaf(
      audit, "query", "Entries of the log matching every filter, newest first",
      [&o, flags](CommandContext& c) {
        o.audit_query.csv = flags->output == "csv";
        return AuditQuery(o.audit_query, AuditConnectorFor(flags), c);
      },
      GlobalScope::kConnects, /*csv=*/true);
  query->add_option("--from", q.from, "From this time, RFC 3339 (inclusive)")->type_name("TIME");
  query->add_option("--to", q.to, "Until this time, RFC 3339 (exclusive)")->type_name("TIME");
  query->add_option("--caller", q.caller, "Only reads by this node AGENCY/SYSTEM")
      ->type_name("NODE");
  query->add_option("--dataset", q.dataset, "Only this dataset AGENCY/NAME")->type_name("D");
  query->add_option("--decision", q.decision, "allow or deny")
      ->check(CLI::IsMember({"allow", "deny"}).description(""));
  query
      ->add_option("--subject", q.subject,
                   "Only reads returning data about this citizen (the gateway pseudonymizes it)")
      ->type_name("CITIZEN_ID");
  query->add_option("--page-size", q.page_size, "Entries per page (default 100, at most 1000)")
      ->check(CLI::Range(0, 1000));
  query->add_option("--page-token", q.page_token, "next_page_token of the previous page");
  query->add_flag("--all", q.all, "Follow the pages to the end");
  query->footer(
      "Which agencies read data about citizen X, when, and for which purpose:\n"
      "  ndxctl audit query --subject 001090000001 --all\n\n"
      "More examples:\n"
      "  ndxctl audit query --caller moh/insurance --from 2026-01-01T00:00:00Z --decision deny\n"
      "  ndxctl audit query --dataset mops/residents --all --output csv > reads.csv");

  table
      .Leaf(audit, "checkpoint", "Print the latest signed checkpoint: size, root, time, note",
            [&o, flags](CommandContext& c) {
              return AuditCheckpoint(o.audit_sign_now, AuditConnectorFor(flags), c);
            })
      ->add_flag("--sign-now", o.audit_sign_now, "Have the gateway sign a new checkpoint first");

  AuditVerifyOptions& v = o.audit_verify;
  CLI::App* verify = table.Leaf(
      audit, "verify",
      "Check the latest checkpoint against the last trusted one and the entries added since",
      [&o, flags](CommandContext& c) {
        return AuditVerify(o.audit_verify, AuditConnectorFor(flags), c);
      },
      GlobalScope::kConnectsKeyIsField);
  verify
      ->add_option("--key", v.keys,
                   "The log's verifier key NAME+KEYID+BASE64, or a file holding it (from the "
                   "operator, never from the gateway); in a cluster, one per log (repeat it, or "
                   "one key a line in the file)")
      ->type_name("KEY_OR_FILE")
      ->required();
  verify
      ->add_option("--state", v.state,
                   "Trusted checkpoint, read and then replaced (default "
                   "~/.config/ndx/audit-state.json)")
      ->type_name("FILE");
  verify->add_option("--origin", v.origin, "Require the log's origin line to be this");
  verify->add_flag("--full", v.full,
                   "Recompute the root from every entry (finds an old entry altered or removed)");
  verify->footer(
      "Here --key is the log's verifier key; give the client key in the profile or before the\n"
      "command (ndxctl --key F audit verify ...). Exit code 4 when verification fails; the\n"
      "state file is then left as it was.\n\n"
      "Example:\n  ndxctl audit verify --key audit.vkey --origin ndx.gov.vn/audit/core --full");

  AuditExportOptions& e = o.audit_export;
  CLI::App* exp = table.Leaf(audit, "export", "Write the log's entries to a file",
                             [&o, flags](CommandContext& c) {
                               return AuditExport(o.audit_export, AuditConnectorFor(flags), c);
                             });
  exp->add_option("--out", e.out, "File to write")->type_name("FILE")->required();
  exp->add_option("--start", e.start, "First entry (default 0)")->type_name("N");
  exp->add_option("--end", e.end, "End, exclusive (default: the latest checkpoint's size)")
      ->type_name("N");
  exp->add_option("--format", e.format, "jsonl (default: one JSON entry a line) or bin")
      ->check(CLI::IsMember({"jsonl", "bin"}).description(""));
  exp->footer("Example:\n  ndxctl audit export --out audit.jsonl --start 0 --end 100000");
}

void AddEventsCommands(CommandTable& table, AllOptions& o) {
  CLI::App* events = table.Group(table.root(), "events",
                                 "Events on datasets: publish, subscribe, acknowledge (Events)");

  PublishOptions& p = o.events_publish;
  CLI::App* publish =
      table.Leaf(events, "publish", "Publish an event on a dataset of the caller's agency",
                 [&o](CommandContext& c) { return EventsPublish(o.events_publish, c); });
  publish->add_option("dataset", p.dataset, "Dataset id AGENCY/NAME")->required();
  publish->add_option("key", p.key, "Value of the key field of the record concerned")->required();
  publish->add_option("--type", p.type, "What happened, e.g. birth.registered ([a-z0-9._-])")
      ->required();
  publish->footer(
      "Example:\n  ndxctl events publish moj/births B-2026-0001 --type birth.registered");

  SubscribeOptions& s = o.events_subscribe;
  CLI::App* subscribe = table.Leaf(
      events, "subscribe",
      "Receive a dataset's events, in order, and acknowledge each once handled (runs until "
      "stopped)",
      [&o](CommandContext& c) { return EventsSubscribe(o.events_subscribe, c); });
  subscribe->add_option("dataset", s.dataset, "Dataset id AGENCY/NAME")->required();
  subscribe->add_option("--purpose", s.purpose, "Legal basis, one of the purposes of the grant")
      ->required();
  subscribe->add_option("--exec", s.exec, "Run `/bin/sh -c CMD` for each event")->type_name("CMD");
  subscribe->add_option("--count", s.count, "Exit once N events were handled")
      ->check(CLI::Range(uint64_t{1}, std::numeric_limits<uint64_t>::max()).description(""))
      ->type_name("N");
  subscribe
      ->add_option("--max-unacknowledged", s.max_unacknowledged,
                   "Events in flight at most (default 100, at most 1000)")
      ->check(CLI::Range(0, 1000).description(""))
      ->type_name("N");
  subscribe->footer(
      "Each event is printed (\"SEQUENCE PUBLISHED_AT TYPE KEY\", or one JSON object a line), or\n"
      "with --exec handed to CMD in NDX_EVENT_DATASET, NDX_EVENT_SEQUENCE, NDX_EVENT_KEY,\n"
      "NDX_EVENT_TYPE, NDX_EVENT_PUBLISHER and NDX_EVENT_PUBLISHED_AT, then acknowledged. A\n"
      "handler exiting non-zero stops ndxctl with exit code 5; its event is delivered again on\n"
      "the next subscribe. --timeout applies to the acknowledgements, not to the stream; a lost\n"
      "connection is resumed. SIGINT and SIGTERM stop it with exit code 0.\n\n"
      "Example:\n  ndxctl events subscribe moj/births --purpose permanent-residence-registration "
      "\\\n"
      "    --exec 'ndxctl get \"$NDX_EVENT_DATASET\" \"$NDX_EVENT_KEY\" \\\n"
      "    --purpose permanent-residence-registration >> births.jsonl'");

  CLI::App* ack = table.Leaf(events, "ack",
                             "Acknowledge every event of the caller's subscription up to SEQUENCE",
                             [&o](CommandContext& c) { return EventsAck(o.events_ack, c); });
  ack->add_option("dataset", o.events_ack.dataset, "Dataset id AGENCY/NAME")->required();
  ack->add_option("sequence", o.events_ack.sequence, "Sequence of the last event to acknowledge")
      ->required();

  table
      .Leaf(events, "subscriptions",
            "List the caller's subscriptions (every node's, for an operator)",
            [&o](CommandContext& c) { return EventsSubscriptions(o.events_dataset, c); })
      ->add_option("--dataset", o.events_dataset, "Only subscriptions to this dataset");
}

int RunParsed(const CommandTable::Action& action, const GlobalFlags& flags, std::ostream& out,
              std::ostream& err) {
  ConnectionFlags connection = flags.connection;
  CommandContext context(
      out, err, flags.output == "json" ? OutputFormat::kJson : OutputFormat::kTable,
      [connection]() -> absl::StatusOr<std::unique_ptr<GatewayClient>> {
        absl::StatusOr<ConnectionSettings> settings = ResolveSettings(connection);
        if (!settings.ok()) return settings.status();
        return GatewayClient::Connect(*settings);
      });
  absl::Status status = action(context);
  out.flush();
  if (!status.ok()) err << FormatError(status) << std::endl;
  if (IsVerificationFailure(status)) return kExitVerificationFailed;
  return ExitCodeFor(status);
}

// CLI11's message, except for an unknown command name, which CLI11 reports as a missing one.
std::string DescribeParseError(const CLI::App& root, const CLI::ParseError& error) {
  const CLI::App* app = &root;
  std::string path = "ndxctl";
  while (!app->get_subcommands().empty()) {
    app = app->get_subcommands().front();
    path = absl::StrCat(path, " ", app->get_name());
  }
  std::vector<std::string> extra = app->remaining();
  std::vector<std::string> commands;
  for (const CLI::App* sub : app->get_subcommands({})) commands.push_back(sub->get_name());
  if (extra.empty() || commands.empty() || extra.front().rfind("-", 0) == 0) return error.what();
  return absl::StrCat("\"", extra.front(), "\" is not a command of ", path, "; the commands are ",
                      absl::StrJoin(commands, ", "));
}

void ForwardGrpcLog(gpr_log_func_args* args) {
  spdlog::debug("grpc {}:{}: {}", args->file, args->line, args->message);
}

}  // namespace

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  // CLI11 reports through exceptions and std::bad_alloc may come from anywhere; none leaves here.
  try {
    CLI::App app("ndxctl: the command line of ndx, the national data-exchange platform", "ndxctl");
    GlobalFlags flags;
    AllOptions options;
    AddGlobalOptions(&app, &flags, GlobalScope::kConnects);
    app.require_subcommand(1);
    app.footer(kMainFooter);
    CommandTable table(&app, &flags);
    AddPkiCommands(table, options);
    AddNodeCommands(table, options);
    AddDatasetCommands(table, options);
    AddGrantCommands(table, options);
    AddExchangeCommands(table, options);
    AddAuditCommands(table, options);
    AddEventsCommands(table, options);

    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e, out, err);
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e, out, err);
    } catch (const CLI::ParseError& e) {
      err << FormatError(UsageError(DescribeParseError(app, e)))
          << "\nRun with --help for more information." << std::endl;
      return kExitUsage;
    }
    const CommandTable::Action* action = table.Selected();
    if (action == nullptr) {
      err << FormatError(UsageError("give a command")) << std::endl;
      return kExitUsage;
    }
    return RunParsed(*action, flags, out, err);
  } catch (const std::exception& e) {
    err << FormatError(absl::InternalError(e.what())) << std::endl;
    return kExitLocal;
  }
}

void RouteGrpcLogsToDebug() {
  const char* verbosity = std::getenv("GRPC_VERBOSITY");
  if (verbosity != nullptr && verbosity[0] != '\0') return;
  gpr_set_log_function(&ForwardGrpcLog);
}

}  // namespace ndx::cli
