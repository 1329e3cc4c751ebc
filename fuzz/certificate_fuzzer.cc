// What ndx reads out of the certificates and CRLs that peers and operators hand it: the leaf rules
// and the identity of a peer (CheckLeafCertificate), a certificate's serial, what `ndxctl pki
// inspect` prints, and the revocation list. The input is DER, of a certificate or of a CRL. A
// CRL is signed again by the target's own CA before it is parsed, so that a mutated CRL gets
// past the signature check into the parsing of its times and serials.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/files.h"
#include "crypto/pki.h"
#include "crypto/revocation.h"
#include "crypto/tls.h"
#include "fuzz_check.h"

namespace {

using ndx::crypto::PeerRole;

constexpr absl::string_view kTrustDomain = "ndx.test";

// The PEM armour of DER bytes.
std::string ToPem(absl::string_view label, absl::string_view der) {
  std::string base64 = absl::Base64Escape(der);
  std::string pem = absl::StrCat("-----BEGIN ", label, "-----\n");
  for (size_t i = 0; i < base64.size(); i += 64) {
    absl::StrAppend(&pem, base64.substr(i, 64), "\n");
  }
  absl::StrAppend(&pem, "-----END ", label, "-----\n");
  return pem;
}

// A CA made once per process, in a temporary directory removed at once: its certificate, and its
// key to sign the CRLs under test.
struct TestCa {
  std::string cert_pem;
  EVP_PKEY* key = nullptr;
};

const TestCa& Ca() {
  static const TestCa* ca = [] {
    std::string dir = (std::filesystem::temp_directory_path() / "ndx-fuzz-ca.XXXXXX").string();
    NDX_FUZZ_CHECK(::mkdtemp(dir.data()) != nullptr, "a temporary directory for the CA");
    ndx::crypto::CaOptions options;
    options.trust_domain = std::string(kTrustDomain);
    NDX_FUZZ_CHECK(ndx::crypto::CreateCa(dir + "/ca", options).ok(), "the CA is created");
    auto* made = new TestCa;
    absl::StatusOr<std::string> cert = ndx::ReadFile(dir + "/ca/ca.pem");
    absl::StatusOr<std::string> key = ndx::ReadFile(dir + "/ca/ca.key");
    std::filesystem::remove_all(dir);
    NDX_FUZZ_CHECK(cert.ok() && key.ok(), "the CA's files are read");
    made->cert_pem = *cert;
    BIO* bio = BIO_new_mem_buf(key->data(), static_cast<int>(key->size()));
    made->key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    NDX_FUZZ_CHECK(made->key != nullptr, "the CA key parses");
    return made;
  }();
  return *ca;
}

void CheckCertificate(absl::string_view der) {
  const std::string pem = ToPem("CERTIFICATE", der);
  for (PeerRole role : {PeerRole::kClient, PeerRole::kServer}) {
    for (absl::string_view trust_domain : {kTrustDomain, absl::string_view()}) {
      absl::StatusOr<ndx::crypto::SpiffeId> id =
          ndx::crypto::CheckLeafCertificate(pem, role, trust_domain);
      if (!id.ok()) {
        NDX_FUZZ_CHECK(id.status().code() == absl::StatusCode::kUnauthenticated ||
                           id.status().code() == absl::StatusCode::kInvalidArgument,
                       "a refused certificate is kUnauthenticated, or kInvalidArgument when it "
                       "does not parse");
        continue;
      }
      NDX_FUZZ_CHECK(trust_domain.empty() || id->trust_domain() == trust_domain,
                     "an accepted leaf is of the trust domain asked for");
      // The leaf rules leave validity to TLS, so a leaf they accept may still have times that
      // inspection cannot read.
      absl::StatusOr<ndx::crypto::CertificateInfo> info = ndx::crypto::InspectCertificate(pem);
      if (info.ok()) {
        NDX_FUZZ_CHECK(info->uris.size() == 1 && info->uris[0] == id->ToString(),
                       "an accepted leaf's identity is its one URI SAN, as inspection shows it");
        NDX_FUZZ_CHECK(!info->is_ca, "an accepted leaf is not a CA");
      }
    }
  }
  // Run whatever the leaf rules say: `ndxctl pki show` reads any file it is given.
  (void)ndx::crypto::CertificateSerial(pem);
  (void)ndx::crypto::InspectCertificate(pem);
}

void CheckRevocationList(absl::string_view der) {
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  X509_CRL* crl = d2i_X509_CRL(nullptr, &cursor, static_cast<long>(der.size()));
  if (crl == nullptr) return;
  const TestCa& ca = Ca();
  std::string pem;
  if (X509_CRL_sign(crl, ca.key, EVP_sha256()) > 0) {
    unsigned char* signed_der = nullptr;
    int length = i2d_X509_CRL(crl, &signed_der);
    if (length > 0) {
      pem = ToPem("X509 CRL", absl::string_view(reinterpret_cast<char*>(signed_der), length));
    }
    OPENSSL_free(signed_der);
  }
  X509_CRL_free(crl);
  if (pem.empty()) return;
  absl::StatusOr<ndx::crypto::RevocationList> list = ndx::crypto::ParseRevocationList(
      pem, ca.cert_pem, absl::FromUnixSeconds(1'800'000'000), "fuzz.crl");
  if (!list.ok()) {
    NDX_FUZZ_CHECK(list.status().code() == absl::StatusCode::kInvalidArgument ||
                       list.status().code() == absl::StatusCode::kFailedPrecondition,
                   "a refused CRL is kInvalidArgument or, expired, kFailedPrecondition");
    return;
  }
  NDX_FUZZ_CHECK(list->next_update > absl::FromUnixSeconds(1'800'000'000),
                 "an accepted CRL is not expired");
  for (const std::string& serial : list->serials) {
    NDX_FUZZ_CHECK(!serial.empty(), "every revoked serial is named");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view der(reinterpret_cast<const char*>(data), size);
  CheckCertificate(der);
  CheckRevocationList(der);
  return 0;
}
