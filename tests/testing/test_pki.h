#ifndef NDX_TESTS_TESTING_TEST_PKI_H_
#define NDX_TESTS_TESTING_TEST_PKI_H_

#include <grpcpp/security/credentials.h>

#include <map>
#include <memory>
#include <string>

#include "crypto/pki.h"
#include "crypto/tls.h"
#include "testing/temp_dir.h"

namespace ndx::testing {

// Channel credentials presenting `files`' certificate and key as they are, past ndx's own checks
// (which refuse to present a certificate the peers would refuse), trusting the CA of
// `files.ca_file` and checking nothing else of the server: a failed call is the server refusing
// the certificate.
std::shared_ptr<grpc::ChannelCredentials> PresentingAsIs(const crypto::TlsFilePaths& files);

// What is wrong with a certificate made by TestPki::WithDefect: one defect each, the rest as
// `ndxctl pki issue` makes it.
enum class CertificateDefect {
  kNone,
  kExpired,             // its validity ended a day ago
  kNotYetValid,         // its validity starts in a day
  kOtherCa,             // signed by an unrelated CA of the same trust domain
  kOtherTrustDomain,    // signed by the platform CA, but its URI SAN is of trust domain other.test
  kTwoUris,             // a second URI SAN, spiffe://ndx.test/gateway/second-uri
  kDnsSanOnly,          // a DNS SAN, no URI SAN
  kCaLeaf,              // basicConstraints CA:TRUE and keyCertSign
  kNoExtensions,        // not a single extension (so no SAN either)
  kClientAuthOnly,      // extendedKeyUsage clientAuth: cannot serve
  kServerAuthOnly,      // extendedKeyUsage serverAuth: cannot be a client
  kNoExtendedKeyUsage,  // no extendedKeyUsage extension, which OpenSSL reads as "any"
};

// "expired", "two-uris", ...: for test names and messages.
std::string DefectName(CertificateDefect defect);

// A throwaway PKI for one test: a platform CA for trust domain "ndx.test" in a TempDir, and
// identities issued on demand with the real crypto/pki.h functions, good ones and bad ones.
// Each identity lives in its own directory holding tls.pem, tls.key and ca.pem (the CA that
// identity trusts). Identities are cached, so asking twice returns the same files.
// Failures add a gtest failure and throw (test code only). Not thread-safe.
class TestPki {
 public:
  static constexpr char kTrustDomain[] = "ndx.test";

  TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // spiffe://ndx.test/node/<node_id>, node_id as "agency/system"; also the IP SAN 127.0.0.1,
  // where the tests' servers listen (an HTTPS client such as curl checks it).
  crypto::TlsFilePaths Node(const std::string& node_id);
  // spiffe://ndx.test/gateway/<name>, with the IP SAN 127.0.0.1 for HTTPS clients.
  crypto::TlsFilePaths Gateway(const std::string& name);
  // Like Node, but its validity ended a day ago.
  crypto::TlsFilePaths ExpiredNode(const std::string& node_id);
  // The same SPIFFE id as Node, signed by an unrelated CA of the same trust domain; its ca_file
  // is that other CA, so it trusts nobody of the platform either.
  crypto::TlsFilePaths OtherCaNode(const std::string& node_id);
  // Node's identity plus a second URI SAN (spiffe://ndx.test/gateway/second-uri).
  crypto::TlsFilePaths TwoUriNode(const std::string& node_id);
  // spiffe://other.test/node/<node_id>. IssueCertificate refuses to issue another trust domain
  // from the platform CA, so this comes from a CA of other.test: it fails chain verification
  // against the platform CA as well as any trust-domain check.
  crypto::TlsFilePaths WrongTrustDomainNode(const std::string& node_id);
  // `identity` (of kTrustDomain) with `defect`. Its ca_file is always the platform CA, so that
  // the holder still trusts the platform's servers and clients: a failure is the peer refusing
  // the defect. kNone is the same certificate as Node or Gateway, in its own files.
  crypto::TlsFilePaths WithDefect(const crypto::SpiffeId& identity, CertificateDefect defect);

  // An identity of the cluster CA, a CA of its own (trust domain kClusterTrustDomain) that issues
  // the certificates of etcd members, NATS servers and gateway replicas as their clients, and no
  // node's: spiffe://cluster.ndx.test/gateway/<name>, with the IP SAN 127.0.0.1. Its ca_file is
  // the cluster CA.
  static constexpr char kClusterTrustDomain[] = "cluster.ndx.test";
  crypto::TlsFilePaths ClusterMember(const std::string& name);

  // The platform CA certificate, and its directory (ca.pem, ca.key) for crypto::RenewCertificate.
  const std::string& ca_file() const { return ca_file_; }
  const std::string& ca_dir() const { return ca_dir_; }
  const std::string& dir() const { return dir_.path(); }

 private:
  // Issues (once per `label`) an identity from the CA in `ca_dir` into dir()/<label>/.
  crypto::TlsFilePaths Issue(const std::string& label, const std::string& ca_dir,
                             const crypto::LeafOptions& options);
  // Creates (once) a CA in dir()/<name>/ and returns that directory.
  std::string Ca(const std::string& name, const std::string& trust_domain);

  TempDir dir_;
  std::string ca_dir_;
  std::string ca_file_;
  std::map<std::string, crypto::TlsFilePaths> issued_;
};

}  // namespace ndx::testing

#endif  // NDX_TESTS_TESTING_TEST_PKI_H_
