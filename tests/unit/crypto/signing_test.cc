#include "crypto/signing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace ndx::crypto {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

// RFC 8032 section 7.1, TEST 1, 2 and 3 (hex as published).
struct Rfc8032Vector {
  const char* secret_key;
  const char* public_key;
  const char* message;
  const char* signature;
};
constexpr Rfc8032Vector kRfc8032[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
     "46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11"
     "d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc"
     "6594a7c15e9716ed28dc027beceea1ec40a"},
};

std::string Hex(const char* hex) { return absl::HexStringToBytes(hex); }

int FileMode(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

TEST(SigningTest, MatchesRfc8032Vectors) {
  for (const Rfc8032Vector& v : kRfc8032) {
    SCOPED_TRACE(v.secret_key);
    absl::StatusOr<SigningKey> key = SigningKey::FromRawPrivateKeyForTest(Hex(v.secret_key));
    ASSERT_THAT(key, IsOk());
    EXPECT_EQ(absl::BytesToHexString(key->public_key()), v.public_key);
    absl::StatusOr<std::string> signature = key->Sign(Hex(v.message));
    ASSERT_THAT(signature, IsOk());
    EXPECT_EQ(absl::BytesToHexString(*signature), v.signature);
    EXPECT_THAT(VerifyEd25519(Hex(v.public_key), Hex(v.message), Hex(v.signature)), IsOk());
  }
}

TEST(SigningTest, RejectsAlteredMessageSignatureOrKey) {
  const Rfc8032Vector& v = kRfc8032[2];
  std::string message = Hex(v.message);
  std::string signature = Hex(v.signature);
  std::string altered_message = message;
  altered_message[0] ^= 1;
  EXPECT_THAT(VerifyEd25519(Hex(v.public_key), altered_message, signature),
              StatusIs(absl::StatusCode::kUnauthenticated));
  for (size_t i : {size_t{0}, size_t{31}, size_t{32}, size_t{63}}) {
    std::string altered = signature;
    altered[i] ^= 0x01;
    EXPECT_THAT(VerifyEd25519(Hex(v.public_key), message, altered),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << "byte " << i;
  }
  EXPECT_THAT(VerifyEd25519(Hex(kRfc8032[1].public_key), message, signature),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(SigningTest, RejectsWrongSizes) {
  const Rfc8032Vector& v = kRfc8032[1];
  EXPECT_THAT(VerifyEd25519(Hex(v.public_key).substr(1), Hex(v.message), Hex(v.signature)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("public key is 32 bytes")));
  EXPECT_THAT(VerifyEd25519(Hex(v.public_key), Hex(v.message), Hex(v.signature) + "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signature is 64 bytes")));
  EXPECT_THAT(SigningKey::FromRawPrivateKeyForTest("short"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("32 bytes, not 5")));
}

TEST(SigningTest, GeneratedKeysSignAndVerify) {
  absl::StatusOr<SigningKey> a = SigningKey::Generate();
  absl::StatusOr<SigningKey> b = SigningKey::Generate();
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->public_key().size(), kEd25519PublicKeySize);
  EXPECT_NE(a->public_key(), b->public_key());
  absl::StatusOr<std::string> signature = a->Sign("checkpoint");
  ASSERT_THAT(signature, IsOk());
  EXPECT_EQ(signature->size(), kEd25519SignatureSize);
  EXPECT_THAT(VerifyEd25519(a->public_key(), "checkpoint", *signature), IsOk());
  EXPECT_THAT(VerifyEd25519(b->public_key(), "checkpoint", *signature),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(SigningTest, SavedKeyIsPrivateAndLoadsBack) {
  ndx::testing::TempDir dir;
  std::string path = dir.Join("checkpoint.key");
  absl::StatusOr<SigningKey> key = SigningKey::Generate();
  ASSERT_THAT(key, IsOk());
  ASSERT_THAT(key->SavePem(path), IsOk());
  EXPECT_EQ(FileMode(path), 0600);
  absl::StatusOr<SigningKey> loaded = SigningKey::LoadPem(path);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->public_key(), key->public_key());
  // Ed25519 is deterministic: the same key gives the same signature.
  EXPECT_EQ(*loaded->Sign("m"), *key->Sign("m"));
  // Nothing but the key is left in the directory.
  EXPECT_THAT(ReadFile(path + absl::StrCat(".new.", ::getpid())),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(SigningTest, SaveRefusesToOverwrite) {
  ndx::testing::TempDir dir;
  std::string path = dir.Join("checkpoint.key");
  ASSERT_THAT(WriteFileAtomically(path, "precious", 0600), IsOk());
  absl::StatusOr<SigningKey> key = SigningKey::Generate();
  ASSERT_THAT(key, IsOk());
  EXPECT_THAT(key->SavePem(path),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("refusing to overwrite")));
  EXPECT_EQ(*ReadFile(path), "precious");
}

// The PKCS #8 encoding of RFC 8032 TEST 1's key, built here from the RFC 8410 layout (a fixed
// 16-byte prefix, then the 32-byte secret key), independently of OpenSSL's encoder.
TEST(SigningTest, LoadsStandardPkcs8Pem) {
  ndx::testing::TempDir dir;
  std::string path = dir.Join("rfc8032.key");
  std::string der = Hex("302e020100300506032b657004220420") + Hex(kRfc8032[0].secret_key);
  std::string pem = absl::StrCat("-----BEGIN PRIVATE KEY-----\n", absl::Base64Escape(der),
                                 "\n-----END PRIVATE KEY-----\n");
  ASSERT_THAT(WriteFileAtomically(path, pem, 0600), IsOk());
  absl::StatusOr<SigningKey> key = SigningKey::LoadPem(path);
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(absl::BytesToHexString(key->public_key()), kRfc8032[0].public_key);
}

TEST(SigningTest, LoadRefusesKeyOpenToOthers) {
  ndx::testing::TempDir dir;
  std::string path = dir.Join("checkpoint.key");
  absl::StatusOr<SigningKey> key = SigningKey::Generate();
  ASSERT_THAT(key, IsOk());
  ASSERT_THAT(key->SavePem(path), IsOk());
  for (const char* mode : {"0640", "0604"}) {
    ASSERT_EQ(::chmod(path.c_str(), std::stoi(mode, nullptr, 8)), 0);
    EXPECT_THAT(SigningKey::LoadPem(path),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         absl::StrCat("key file ", path, " has mode ", mode,
                                      " and is open to group or others; run: chmod 600 ", path)));
  }
  for (int mode : {0600, 0400}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    absl::StatusOr<SigningKey> loaded = SigningKey::LoadPem(path);
    ASSERT_THAT(loaded, IsOk()) << mode;
    EXPECT_EQ(loaded->public_key(), key->public_key());
  }
}

TEST(SigningTest, LoadRejectsMissingGarbageAndOtherKeyTypes) {
  ndx::testing::TempDir dir;
  EXPECT_THAT(SigningKey::LoadPem(dir.Join("absent.key")), StatusIs(absl::StatusCode::kNotFound));

  std::string garbage = dir.Join("garbage.key");
  ASSERT_THAT(WriteFileAtomically(garbage, "not a key\n", 0600), IsOk());
  EXPECT_THAT(SigningKey::LoadPem(garbage),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PEM private key")));

  // A P-256 key, as the PKI makes for TLS, is not a checkpoint key.
  std::string p256 = dir.Join("p256.key");
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  ASSERT_NE(ec, nullptr);
  FILE* file = std::fopen(p256.c_str(), "w");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(PEM_write_PrivateKey(file, ec, nullptr, nullptr, 0, nullptr, nullptr), 1);
  std::fclose(file);
  EVP_PKEY_free(ec);
  ASSERT_EQ(::chmod(p256.c_str(), 0600), 0);
  EXPECT_THAT(SigningKey::LoadPem(p256), StatusIs(absl::StatusCode::kInvalidArgument,
                                                  HasSubstr("an Ed25519 key is required")));
}

}  // namespace
}  // namespace ndx::crypto
