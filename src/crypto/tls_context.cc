#include "crypto/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <array>
#include <mutex>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "crypto/openssl_util.h"
#include "crypto/tls_internal.h"

namespace ndx::crypto {
namespace {

using internal::PkeyPtr;
using internal::X509Ptr;

using StorePtr = std::unique_ptr<X509_STORE, internal::Deleter<X509_STORE, X509_STORE_free>>;
void FreeChain(STACK_OF(X509) * chain) { sk_X509_pop_free(chain, X509_free); }
using ChainPtr = std::unique_ptr<STACK_OF(X509), internal::Deleter<STACK_OF(X509), FreeChain>>;

constexpr absl::Duration kReloadCheckInterval = absl::Seconds(1);

// The files' modification times and sizes: a change to any of them means a reload.
using FileStamps = std::array<std::pair<int64_t, int64_t>, 3>;

FileStamps StampFiles(const TlsFilePaths& files) {
  FileStamps stamps{};
  const std::string* paths[] = {&files.ca_file, &files.cert_file, &files.key_file};
  for (size_t i = 0; i < stamps.size(); ++i) {
    struct stat st;
    if (stat(paths[i]->c_str(), &st) == 0) {
      stamps[i] = {static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                   static_cast<int64_t>(st.st_size)};
    }
  }
  return stamps;
}

// Every certificate of a PEM text, in order.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(absl::string_view pem,
                                                       absl::string_view source) {
  std::unique_ptr<BIO, internal::Deleter<BIO, BIO_free_all>> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<X509Ptr> certificates;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(cert);
  }
  ERR_clear_error();  // the end of the text reads as an error
  if (certificates.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, " holds no PEM certificate"));
  }
  return certificates;
}

int ContextIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

// One consistent set of the three files, parsed.
struct ServerTlsContext::Material {
  X509Ptr cert;
  ChainPtr chain;
  PkeyPtr key;
  StorePtr roots;
};

// The policy and the files in use. Thread-safe: handshakes run on many threads.
class ServerTlsContext::State {
 public:
  State(TlsFilePaths files, std::string trust_domain, const RevocationWatcher* revocation)
      : files_(std::move(files)), trust_domain_(std::move(trust_domain)), revocation_(revocation) {}

  // Reads and checks the files as MakeServerCredentials does.
  absl::StatusOr<std::shared_ptr<const Material>> Load() const {
    NDX_ASSIGN_OR_RETURN(internal::TlsPems pems, internal::LoadTlsFiles(files_));
    NDX_RETURN_IF_ERROR(
        internal::CheckOwnCertificate(pems, files_.cert_file, PeerRole::kServer, trust_domain_));
    auto material = std::make_shared<Material>();
    NDX_ASSIGN_OR_RETURN(std::vector<X509Ptr> certs,
                         ParseCertificates(pems.cert, files_.cert_file));
    material->cert = std::move(certs[0]);
    material->chain.reset(sk_X509_new_null());
    for (size_t i = 1; i < certs.size(); ++i)
      sk_X509_push(material->chain.get(), certs[i].release());
    NDX_ASSIGN_OR_RETURN(material->key, internal::ParsePrivateKeyPem(pems.key, files_.key_file));
    NDX_ASSIGN_OR_RETURN(std::vector<X509Ptr> roots, ParseCertificates(pems.ca, files_.ca_file));
    material->roots.reset(X509_STORE_new());
    for (const X509Ptr& root : roots) {
      if (X509_STORE_add_cert(material->roots.get(), root.get()) != 1) {
        return absl::InvalidArgumentError(
            internal::OpenSslErrors(absl::StrCat("cannot use the CA of ", files_.ca_file)));
      }
    }
    return std::shared_ptr<const Material>(std::move(material));
  }

  absl::Status Init() {
    NDX_ASSIGN_OR_RETURN(std::shared_ptr<const Material> material, Load());
    absl::MutexLock lock(&mutex_);
    material_ = std::move(material);
    stamps_ = StampFiles(files_);
    last_check_ = absl::Now();
    return absl::OkStatus();
  }

  // The files in use, re-read first when they changed since the last look (at most once per
  // kReloadCheckInterval).
  std::shared_ptr<const Material> Current() {
    absl::MutexLock lock(&mutex_);
    absl::Time now = absl::Now();
    if (now - last_check_ < kReloadCheckInterval) return material_;
    last_check_ = now;
    FileStamps stamps = StampFiles(files_);
    if (stamps == stamps_) return material_;
    stamps_ = stamps;
    absl::StatusOr<std::shared_ptr<const Material>> loaded = Load();
    if (!loaded.ok()) {
      spdlog::error("TLS files changed but cannot be used; the previous ones stay in use: {}",
                    std::string(loaded.status().message()));
      return material_;
    }
    spdlog::info("TLS files reloaded: {}", files_.cert_file);
    material_ = *std::move(loaded);
    return material_;
  }

  // The client leaf rules and the CRL on a chain-verified client certificate.
  absl::Status CheckClient(X509* cert) const {
    NDX_RETURN_IF_ERROR(internal::CheckLeaf(cert, PeerRole::kClient, trust_domain_).status());
    return CheckNotRevoked(cert);
  }

  absl::Status CheckNotRevoked(X509* cert) const {
    if (revocation_ == nullptr) return absl::OkStatus();
    absl::StatusOr<std::string> pem = internal::CertificateToPem(cert);
    if (!pem.ok() || revocation_->IsRevoked(*pem)) {
      return internal::Refused(PeerRole::kClient, "has been revoked (it is on the CRL in force)");
    }
    return absl::OkStatus();
  }

 private:
  const TlsFilePaths files_;
  const std::string trust_domain_;
  const RevocationWatcher* const revocation_;
  absl::Mutex mutex_;
  std::shared_ptr<const Material> material_ ABSL_GUARDED_BY(mutex_);
  FileStamps stamps_ ABSL_GUARDED_BY(mutex_){};
  absl::Time last_check_ ABSL_GUARDED_BY(mutex_);
};

namespace {

ServerTlsContext::State* StateOf(X509_STORE_CTX* store_context) {
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store_context, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return nullptr;
  return static_cast<ServerTlsContext::State*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ContextIndex()));
}

std::string Fingerprint(X509* cert) {
  absl::StatusOr<std::string> pem = internal::CertificateToPem(cert);
  return internal::FingerprintOf(pem.ok() ? pem->c_str() : nullptr);
}

// OpenSSL's verify callback: its chain verdict first, then our rules on the leaf.
int VerifyClient(int chain_ok, X509_STORE_CTX* store_context) {
  X509* cert = X509_STORE_CTX_get_current_cert(store_context);
  if (chain_ok != 1) {
    // A failed handshake tells the client nothing: the log is where the operator learns why.
    spdlog::warn(
        "refused a TLS client: client certificate does not verify against the platform "
        "CA: {} (certificate SHA-256 {})",
        X509_verify_cert_error_string(X509_STORE_CTX_get_error(store_context)), Fingerprint(cert));
    return 0;
  }
  if (X509_STORE_CTX_get_error_depth(store_context) != 0) return 1;
  ServerTlsContext::State* state = StateOf(store_context);
  absl::Status status = state == nullptr ? absl::InternalError("the TLS context lost its policy")
                                         : state->CheckClient(cert);
  if (!status.ok()) {
    spdlog::warn("refused a TLS client: {} (certificate SHA-256 {})", std::string(status.message()),
                 Fingerprint(cert));
    X509_STORE_CTX_set_error(store_context, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  return 1;
}

// OpenSSL's certificate callback, at each handshake: the current files' certificate, key and CA.
int UseCurrentFiles(SSL* ssl, void* arg) {
  std::shared_ptr<const ServerTlsContext::Material> material =
      static_cast<ServerTlsContext::State*>(arg)->Current();
  if (SSL_use_cert_and_key(ssl, material->cert.get(), material->key.get(), material->chain.get(),
                           1) != 1 ||
      SSL_set1_verify_cert_store(ssl, material->roots.get()) != 1) {
    spdlog::error("{}", internal::OpenSslErrors("cannot use the TLS files in a handshake"));
    return 0;
  }
  return 1;
}

}  // namespace

ServerTlsContext::ServerTlsContext(std::unique_ptr<State> state) : state_(std::move(state)) {}
ServerTlsContext::~ServerTlsContext() = default;

absl::StatusOr<std::unique_ptr<ServerTlsContext>> ServerTlsContext::Create(
    const TlsFilePaths& files, const std::string& trust_domain,
    const RevocationWatcher* revocation) {
  if (trust_domain.empty()) {
    return absl::InvalidArgumentError("a TLS server needs the platform's trust domain");
  }
  auto state = std::make_unique<State>(files, trust_domain, revocation);
  NDX_RETURN_IF_ERROR(state->Init());
  return std::unique_ptr<ServerTlsContext>(new ServerTlsContext(std::move(state)));
}

bool ServerTlsContext::Configure(SSL_CTX& ctx) const {
  std::shared_ptr<const Material> material = state_->Current();
  bool ok = SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) == 1 &&
            SSL_CTX_set_ex_data(&ctx, ContextIndex(), state_.get()) == 1 &&
            SSL_CTX_use_certificate(&ctx, material->cert.get()) == 1 &&
            SSL_CTX_use_PrivateKey(&ctx, material->key.get()) == 1;
  if (!ok) {
    spdlog::error("{}", internal::OpenSslErrors("cannot configure a TLS server"));
    return false;
  }
  SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, VerifyClient);
  SSL_CTX_set_cert_cb(&ctx, UseCurrentFiles, state_.get());
  return true;
}

absl::StatusOr<SpiffeId> ServerTlsContext::PeerIdentity(const SSL& ssl) const {
  X509* cert = SSL_get0_peer_certificate(&ssl);
  if (cert == nullptr || SSL_get_verify_result(&ssl) != X509_V_OK) {
    return absl::UnauthenticatedError("the client presented no verified TLS certificate");
  }
  // The handshake checked the leaf rules; the CRL may have changed since.
  NDX_RETURN_IF_ERROR(state_->CheckNotRevoked(cert));
  std::vector<std::string> uris = internal::GetSubjectAltNames(cert).uris;
  if (uris.size() != 1) {
    return absl::UnauthenticatedError("the client certificate must have exactly one URI SAN");
  }
  return ParseSpiffeId(uris[0]);
}

}  // namespace ndx::crypto
