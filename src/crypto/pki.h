#ifndef NDX_CRYPTO_PKI_H_
#define NDX_CRYPTO_PKI_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crypto/spiffe_id.h"

namespace ndx::crypto {

// The development and test PKI of the platform: a CA, and leaf certificates for nodes and
// gateways. Keys are ECDSA P-256, written 0600 into the directory where they are made and never
// copied elsewhere; certificates are PEM, 0644.
//
// File layout:
//   <ca_dir>/ca.pem, <ca_dir>/ca.key
//   <out_dir>/<basename>.pem, <out_dir>/<basename>.key  (plus <out_dir>/ca.pem, a copy of the CA
//   certificate, so that a node's directory is self-sufficient)

struct CaOptions {
  std::string trust_domain;
  // Subject common name; default "ndx platform CA (<trust_domain>)".
  std::string common_name;
  absl::Duration validity = absl::Hours(24 * 365 * 5);
};

// Creates ca.pem and ca.key in `ca_dir` (created 0700 if missing). Refuses to overwrite an
// existing CA key (kAlreadyExists).
absl::Status CreateCa(const std::string& ca_dir, const CaOptions& options);

// The extended key usages of a leaf: which end of a TLS connection it may authenticate.
struct ExtendedKeyUsage {
  bool client_auth = true;
  bool server_auth = true;
};

struct LeafOptions {
  // The URI SAN; its trust domain must be the CA's.
  SpiffeId identity = SpiffeId::Node("", "");
  // Extra DNS and IP SANs, for peers that still check host names.
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  // Validity starts at not_before (default: now minus one minute of clock skew).
  absl::Time not_before = absl::InfinitePast();
  absl::Duration validity = absl::Hours(24 * 365);

  // Test-only knobs for making the bad certificates the peers must refuse; never set by ndxctl.
  // When set, the URI SANs are exactly these instead of the identity: none, two, or one of
  // another trust domain (the CA signs it all the same).
  std::optional<std::vector<std::string>> uris_for_test;
  bool is_ca_for_test = false;          // basicConstraints CA:TRUE (and keyCertSign) on a leaf
  bool no_extensions_for_test = false;  // a v3 certificate without a single extension, nor SANs
  // Both false: no extendedKeyUsage extension at all.
  ExtendedKeyUsage extended_key_usage_for_test;
};

// Makes a key and a certificate signed by the CA in `ca_dir` and writes them as
// <out_dir>/<basename>.{pem,key} (out_dir created 0700 if missing), plus <out_dir>/ca.pem.
// The certificate obeys the leaf rules every peer enforces (see CheckLeafCertificate in tls.h):
// basicConstraints critical CA:FALSE; keyUsage critical digitalSignature (the key is ECDSA
// P-256, so there is no RSA key transport to allow with keyEncipherment); extendedKeyUsage
// clientAuth and serverAuth, for nodes and gateways alike, since a gateway is a server to nodes
// and a client to adapters, and a node that runs an adapter serves the gateway with the same
// certificate it calls the gateway with; exactly one URI SAN, the identity.
// Refuses to overwrite an existing key (kAlreadyExists), and to use a CA key that group or
// others may access (kFailedPrecondition, the message says to chmod 600).
absl::Status IssueCertificate(const std::string& ca_dir, const std::string& out_dir,
                              const std::string& basename, const LeafOptions& options);

// Renews the certificate in `cert_path` in place: a new certificate, signed by the CA in `ca_dir`
// (which must have signed the old one), for the same public key, identity and extra SANs, with a
// new serial and `validity` from now, written atomically over the old file (0644). The private
// key is not touched, so a process that reloads its certificate file never sees a key and a
// certificate that do not match. Returns the new certificate's PEM.
// Errors: kInvalidArgument when the file holds no certificate or one without exactly one ndx
// identity of the CA's trust domain; kFailedPrecondition when this CA did not sign it; the CA's
// own errors as for IssueCertificate.
absl::StatusOr<std::string> RenewCertificate(const std::string& ca_dir,
                                             const std::string& cert_path, absl::Duration validity);

// What ndxctl prints about a certificate.
struct CertificateInfo {
  std::string subject;
  std::vector<std::string> uris;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  absl::Time not_before;
  absl::Time not_after;
  bool is_ca = false;
  std::string sha256_fingerprint;  // lower-case hex of the DER
};
absl::StatusOr<CertificateInfo> InspectCertificate(const std::string& pem);

}  // namespace ndx::crypto

#endif  // NDX_CRYPTO_PKI_H_
