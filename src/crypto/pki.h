#ifndef NDX_CRYPTO_PKI_H_
#define NDX_CRYPTO_PKI_H_

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

struct LeafOptions {
  // The URI SAN; its trust domain must be the CA's.
  SpiffeId identity = SpiffeId::Node("", "");
  // Extra DNS and IP SANs, for peers that still check host names.
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  // Validity starts at not_before (default: now minus one minute of clock skew).
  absl::Time not_before = absl::InfinitePast();
  absl::Duration validity = absl::Hours(24 * 365);

  // Test-only knobs for making bad certificates; never set by ndxctl.
  std::vector<std::string> extra_uris_for_test;  // more URI SANs after the identity
  bool is_ca_for_test = false;                   // basicConstraints CA:TRUE on a leaf
};

// Makes a key and a certificate signed by the CA in `ca_dir` and writes them as
// <out_dir>/<basename>.{pem,key} (out_dir created 0700 if missing), plus <out_dir>/ca.pem.
// Refuses to overwrite an existing key (kAlreadyExists), and to use a CA key that group or
// others may access (kFailedPrecondition, the message says to chmod 600).
absl::Status IssueCertificate(const std::string& ca_dir, const std::string& out_dir,
                              const std::string& basename, const LeafOptions& options);

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
