#include "audit/checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "crypto/signing.h"
#include "testing/status_matchers.h"

namespace ndx::audit {
namespace {

using ::ndx::testing::IsOk;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Published vectors of golang.org/x/mod/sumdb/note (golang/mod, sumdb/note/note_test.go:
// TestNewVerifier, TestNewSigner, TestSign, TestOpen). Data only.
constexpr absl::string_view kPeterSigner =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr absl::string_view kPeterKey =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr absl::string_view kEnochKey =
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
constexpr absl::string_view kText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr absl::string_view kPeterSig =
    "— PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
constexpr absl::string_view kEnochSig =
    "— EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/"
    "5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

// A real signed tree head of the Go checksum database, in checkpoint form (3 lines), quoted in
// google/trillian-examples, formats/log/checkpoint_test.go (TestSumDBNoteParsing); its key is
// the production sum.golang.org key (golang/go, src/cmd/go/internal/modfetch/key.go).
constexpr absl::string_view kSumDbKey =
    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
constexpr absl::string_view kSumDbNote =
    "go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\n"
    "— sum.golang.org "
    "Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw="
    "\n";

// The root of the example in the C2SP tlog-checkpoint spec.
constexpr absl::string_view kRootBase64 = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
constexpr absl::string_view kOrigin = "ndx.example/audit/test";

std::string Base64Decode(absl::string_view text) {
  std::string out;
  EXPECT_TRUE(absl::Base64Unescape(text, &out)) << text;
  return out;
}

crypto::SigningKey PeterNeumann() {
  // The signer text ends with base64(0x01 || 32-byte Ed25519 secret key).
  std::string raw = Base64Decode(
      kPeterSigner.substr(absl::string_view("PRIVATE+KEY+PeterNeumann+c74f20a3+").size()));
  absl::StatusOr<crypto::SigningKey> key =
      crypto::SigningKey::FromRawPrivateKeyForTest(raw.substr(1));
  EXPECT_THAT(key, IsOk());
  return std::move(key).value();
}

VerifierKey Parse(absl::string_view text) {
  absl::StatusOr<VerifierKey> key = ParseVerifierKey(text);
  EXPECT_THAT(key, IsOk()) << text;
  return key.ok() ? *key : VerifierKey{};
}

Checkpoint Example() {
  Checkpoint checkpoint;
  checkpoint.origin = std::string(kOrigin);
  checkpoint.size = 20852163;
  std::string root = Base64Decode(kRootBase64);
  std::copy(root.begin(), root.end(), checkpoint.root.begin());
  checkpoint.time = absl::FromUnixNanos(1700000000123456789);
  return checkpoint;
}

// A checkpoint test fixture: the PeterNeumann key reused under the log's name.
class CheckpointTest : public ::testing::Test {
 protected:
  CheckpointTest() : key_(PeterNeumann()) {
    verifier_ = Parse(FormatVerifierKey(kOrigin, key_.public_key()));
  }
  std::string Sign(const Checkpoint& checkpoint) {
    absl::StatusOr<std::string> note = SignCheckpoint(checkpoint, kOrigin, key_);
    EXPECT_THAT(note, IsOk());
    return note.ok() ? *note : "";
  }
  // `text` signed as it is, for bodies SignCheckpoint would never produce.
  std::string SignText(absl::string_view text) {
    absl::StatusOr<std::string> note = SignNote(text, kOrigin, key_);
    EXPECT_THAT(note, IsOk());
    return note.ok() ? *note : "";
  }

  crypto::SigningKey key_;
  VerifierKey verifier_;
};

TEST(VerifierKeyTest, MatchesPublishedKeys) {
  crypto::SigningKey peter = PeterNeumann();
  EXPECT_EQ(FormatVerifierKey("PeterNeumann", peter.public_key()), kPeterKey);
  EXPECT_EQ(Ed25519KeyId("PeterNeumann", peter.public_key()), 0xc74f20a3u);
  VerifierKey parsed = Parse(kPeterKey);
  EXPECT_EQ(parsed.name, "PeterNeumann");
  EXPECT_EQ(parsed.key_id, 0xc74f20a3u);
  EXPECT_EQ(parsed.public_key, peter.public_key());
  EXPECT_EQ(Parse(kEnochKey).key_id, 0xaf0cfe78u);
  EXPECT_EQ(Parse(kSumDbKey).key_id, 0x033de0aeu);
  EXPECT_EQ(FormatVerifierKey("sum.golang.org", Parse(kSumDbKey).public_key), kSumDbKey);
}

// As golang.org/x/mod's TestNewVerifier: no proper substring and no one-byte change of a key
// parses, nor a key of the wrong length or of an unknown type even with a matching key id.
TEST(VerifierKeyTest, RejectsEveryMangling) {
  std::string key(kPeterKey);
  for (size_t i = 0; i <= key.size(); ++i) {
    for (size_t j = i + 1; j <= key.size(); ++j) {
      if (i == 0 && j == key.size()) continue;
      EXPECT_THAT(ParseVerifierKey(key.substr(i, j - i)),
                  StatusIs(absl::StatusCode::kInvalidArgument))
          << key.substr(i, j - i);
    }
  }
  for (size_t i = 0; i < key.size(); ++i) {
    std::string changed = key;
    ++changed[i];
    EXPECT_THAT(ParseVerifierKey(changed), StatusIs(absl::StatusCode::kInvalidArgument)) << changed;
  }
  EXPECT_THAT(ParseVerifierKey(
                  "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseVerifierKey(FormatVerifierKey("PeterNeumann", std::string(31, 'k'))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("32 bytes, not 31")));
  EXPECT_THAT(
      ParseVerifierKey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signature type 0x65")));
  EXPECT_THAT(
      ParseVerifierKey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("key id c74f20a4 does not match the name and key (they give c74f20a3)")));
  EXPECT_THAT(ParseVerifierKey("no-plus-signs"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("<name>+<8 hex digits>")));
}

TEST(NoteTest, SignsAsPublished) {
  absl::StatusOr<std::string> note = SignNote(kText, "PeterNeumann", PeterNeumann());
  ASSERT_THAT(note, IsOk());
  EXPECT_EQ(*note, absl::StrCat(kText, "\n", kPeterSig));
}

TEST(NoteTest, OpensPublishedNotes) {
  std::string both = absl::StrCat(kText, "\n", kPeterSig, kEnochSig);
  EXPECT_EQ(*OpenNote(both, Parse(kPeterKey)), kText);
  EXPECT_EQ(*OpenNote(both, Parse(kEnochKey)), kText);
  EXPECT_THAT(OpenNote(absl::StrCat(kText, "\n", kEnochSig), Parse(kPeterKey)),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("not signed by key PeterNeumann+c74f20a3; it is signed by "
                                 "EnochRoot+af0cfe78")));
  EXPECT_EQ(*OpenNote(kSumDbNote, Parse(kSumDbKey)),
            "go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n");
}

// The malformed notes of golang.org/x/mod's TestOpen, and its signature limit.
TEST(NoteTest, RejectsPublishedMalformedNotes) {
  std::string peter_sig(kPeterSig);
  const std::string bad[] = {
      std::string(kText),
      absl::StrCat(kText, "\n"),
      absl::StrCat(kText, "\n", peter_sig.substr(0, peter_sig.size() - 1)),
      absl::StrCat("\x01", kText, "\n", kPeterSig),
      absl::StrCat("\xff", kText, "\n", kPeterSig),
      absl::StrCat(kText, "\n",
                   "— Bad Name "
                   "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6"
                   "KE6RyyBwJnAM="),
      absl::StrCat(kText, "\n", kPeterSig, "Unexpected line.\n"),
  };
  for (const std::string& note : bad) {
    EXPECT_THAT(OpenNote(note, Parse(kPeterKey)), StatusIs(absl::StatusCode::kInvalidArgument))
        << note;
  }
  std::string sigs_100;
  for (int i = 0; i < 100; ++i) absl::StrAppend(&sigs_100, kPeterSig);
  EXPECT_THAT(OpenNote(absl::StrCat(kText, "\n", sigs_100), Parse(kPeterKey)), IsOk());
  EXPECT_THAT(
      OpenNote(absl::StrCat(kText, "\n", sigs_100, kPeterSig), Parse(kPeterKey)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("101 signatures; at most 100")));
  // Four base64 characters inserted into the signature: still our key id, no longer a signature.
  std::string altered = absl::StrCat(peter_sig.substr(0, 60), "ABCD", peter_sig.substr(60));
  EXPECT_THAT(OpenNote(absl::StrCat(kText, "\n", altered), Parse(kPeterKey)),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("signature by key PeterNeumann+c74f20a3 does not verify")));
}

TEST(NoteTest, PreciseMessages) {
  VerifierKey peter = Parse(kPeterKey);
  EXPECT_THAT(
      OpenNote(absl::StrCat(kText, "\n", kPeterSig, "x"), peter),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not end with a newline")));
  EXPECT_THAT(
      OpenNote(absl::StrCat("a\tb\n\n", kPeterSig), peter),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("control character 0x09 at byte 1")));
  EXPECT_THAT(OpenNote(absl::StrCat(kText, "\n- PeterNeumann AAAAAAAA\n"), peter),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("signature line 1 does not start with an em dash")));
  EXPECT_THAT(OpenNote(absl::StrCat(kText, "\n", kPeterSig, "— PeterNeumann AAAA!AAA\n"), peter),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("signature line 2 (key PeterNeumann): the signature is not "
                                 "canonical standard base64")));
  // Base64 without its padding, and with non-zero padding bits.
  std::string sig(kPeterSig);
  EXPECT_THAT(OpenNote(absl::StrCat(kText, "\n", absl::StrReplaceAll(sig, {{"=", ""}})), peter),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("base64")));
  EXPECT_THAT(
      OpenNote(absl::StrCat(kText, "\n", absl::StrReplaceAll(sig, {{"AM=", "AN="}})), peter),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("base64")));
  EXPECT_THAT(OpenNote(absl::StrCat(kText, "\n— PeterNeumann AAAA\n"), peter),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3 bytes cannot hold")));
  std::string huge = absl::StrCat(std::string(1 << 20, 'x'), "\n\n", kPeterSig);
  EXPECT_THAT(OpenNote(huge, peter),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 1048576")));
  EXPECT_THAT(SignNote(std::string(1 << 20, 'x') + "\n", "PeterNeumann", PeterNeumann()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 1048576")));
  EXPECT_THAT(SignNote("no final newline", "PeterNeumann", PeterNeumann()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("end with a newline")));
}

TEST_F(CheckpointTest, RoundTripsInTheC2spFormat) {
  std::string note = Sign(Example());
  EXPECT_THAT(note,
              StartsWith(absl::StrCat(kOrigin, "\n20852163\n", kRootBase64,
                                      "\nTimestamp: 1700000000123456789\n\n— ", kOrigin, " ")));
  absl::StatusOr<Checkpoint> verified = VerifyCheckpoint(note, verifier_);
  ASSERT_THAT(verified, IsOk());
  EXPECT_EQ(*verified, Example());

  // The signature line is base64(key id || Ed25519 signature of the text), checked here with
  // nothing but the public key.
  size_t blank = note.find("\n\n");
  std::string text = note.substr(0, blank + 1);
  std::string line = note.substr(blank + 2);
  std::string raw =
      Base64Decode(line.substr(line.rfind(' ') + 1, line.size() - line.rfind(' ') - 2));
  ASSERT_EQ(raw.size(), 68u);
  EXPECT_EQ(absl::BytesToHexString(raw.substr(0, 4)),
            absl::StrCat(absl::Hex(Ed25519KeyId(kOrigin, key_.public_key()), absl::kZeroPad8)));
  EXPECT_THAT(crypto::VerifyEd25519(key_.public_key(), text, raw.substr(4)), IsOk());
}

TEST_F(CheckpointTest, EmptyTreeAndTimePrecision) {
  Checkpoint empty;
  empty.origin = "o";
  empty.root = crypto::Sha256("");  // RFC 6962: the root of the empty tree
  empty.time = absl::FromUnixNanos(5) + absl::Nanoseconds(0.5);
  std::string note = Sign(empty);
  EXPECT_THAT(note, StartsWith("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
                               "Timestamp: 5\n\n"));
  absl::StatusOr<Checkpoint> verified = VerifyCheckpoint(note, verifier_);
  ASSERT_THAT(verified, IsOk());
  EXPECT_EQ(verified->size, 0u);
  EXPECT_EQ(verified->time, absl::FromUnixNanos(5));  // sub-nanoseconds are dropped
}

TEST_F(CheckpointTest, DetectsEveryTampering) {
  std::string note = Sign(Example());
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string changed = note;
    size_t at = changed.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return changed.replace(at, from.size(), to);
  };
  for (const std::string& altered : std::vector<std::string>{
           replace("\n20852163\n", "\n20852164\n"),                          // size
           replace("CsUYapGG", "DsUYapGG"),                                  // root
           replace("ndx.example/audit/test\n", "ndx.example/audit/tesT\n"),  // origin
           replace("123456789\n", "123456788\n"),                            // time
       }) {
    EXPECT_THAT(VerifyCheckpoint(altered, verifier_),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("was altered")))
        << altered;
  }

  // A flipped byte of the signature, and of the key id in front of it.
  size_t at = note.rfind(' ') + 1;
  std::string raw = Base64Decode(note.substr(at, note.size() - at - 1));
  for (size_t i : {size_t{10}, size_t{67}}) {
    std::string flipped = raw;
    flipped[i] ^= 0x20;
    std::string altered = note.substr(0, at) + absl::Base64Escape(flipped) + "\n";
    EXPECT_THAT(VerifyCheckpoint(altered, verifier_), StatusIs(absl::StatusCode::kDataLoss));
  }
  std::string wrong_id = raw;
  wrong_id[0] ^= 0x01;
  EXPECT_THAT(VerifyCheckpoint(note.substr(0, at) + absl::Base64Escape(wrong_id) + "\n", verifier_),
              StatusIs(absl::StatusCode::kUnauthenticated));

  // The key name of the signature line, another key, no signature at all.
  EXPECT_THAT(VerifyCheckpoint(replace("— ndx.example/audit/test ", "— ndx.example/audit/tesT "),
                               verifier_),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not signed by key")));
  absl::StatusOr<crypto::SigningKey> other = crypto::SigningKey::Generate();
  ASSERT_THAT(other, IsOk());
  EXPECT_THAT(VerifyCheckpoint(note, Parse(FormatVerifierKey(kOrigin, other->public_key()))),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(VerifyCheckpoint(note.substr(0, note.find("\n\n") + 2), verifier_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no signature line")));
}

// Signatures by other keys are ignored (witness cosignatures, a rotated key under the same
// name); a second, bad signature by our own key is not.
TEST_F(CheckpointTest, IgnoresOtherKeysButNotABadSignatureOfOurs) {
  std::string note = Sign(Example());
  std::string text = note.substr(0, note.find("\n\n") + 1);
  absl::StatusOr<crypto::SigningKey> other = crypto::SigningKey::Generate();
  ASSERT_THAT(other, IsOk());
  auto line_by = [&](absl::string_view name) {
    absl::StatusOr<std::string> cosigned = SignNote(text, name, *other);
    EXPECT_THAT(cosigned, IsOk());
    return cosigned->substr(text.size() + 1);
  };
  std::string with_others = note + line_by("witness.example/w1") + line_by(kOrigin);
  EXPECT_EQ(*VerifyCheckpoint(with_others, verifier_), Example());
  EXPECT_EQ(*VerifyCheckpoint(line_by("witness.example/w1").insert(0, note), verifier_), Example());

  std::string our_line = note.substr(text.size() + 1);
  std::string bad_line = our_line;
  bad_line[bad_line.size() - 6] = bad_line[bad_line.size() - 6] == 'A' ? 'B' : 'A';
  EXPECT_THAT(VerifyCheckpoint(note + bad_line, verifier_), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(VerifyCheckpoint(note + our_line, verifier_), IsOk());
}

TEST_F(CheckpointTest, ParsesTheBodyStrictly) {
  std::string root(kRootBase64);
  struct Case {
    std::string text;
    std::string message;
  };
  const Case cases[] = {
      {absl::StrCat("o\n007\n", root, "\nTimestamp: 1\n"), "line 2 (tree size) \"007\""},
      {absl::StrCat("o\n+7\n", root, "\nTimestamp: 1\n"), "line 2 (tree size)"},
      {absl::StrCat("o\n 7\n", root, "\nTimestamp: 1\n"), "line 2 (tree size)"},
      {absl::StrCat("o\n18446744073709551616\n", root, "\nTimestamp: 1\n"), "line 2 (tree size)"},
      {absl::StrCat("o\n\n", root, "\nTimestamp: 1\n"), "line 2 (tree size)"},
      {"o\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\nTimestamp: 1\n",
       "line 3 (root hash)"},  // 31 bytes
      {"o\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\nTimestamp: 1\n",
       "line 3 (root hash)"},  // non-zero padding bits
      {"o\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\nTimestamp: 1\n",
       "line 3 (root hash)"},  // no padding
      {absl::StrCat("o\n7\n", root, "\n"), "has 3 lines"},
      {absl::StrCat("o\n7\n", root, "\nTimestamp: 1\nextra\n"), "has 5 lines"},
      {absl::StrCat("o\n7\n", root, "\ntimestamp: 1\n"), "line 4 \"timestamp: 1\""},
      {absl::StrCat("o\n7\n", root, "\nTimestamp: 01\n"), "line 4 (timestamp)"},
      {absl::StrCat("o\n7\n", root, "\nTimestamp: 9223372036854775808\n"), "line 4 (timestamp)"},
      {absl::StrCat("\n7\n", root, "\nTimestamp: 1\n"), "line 1 (origin) is empty"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(VerifyCheckpoint(SignText(c.text), verifier_),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.text;
  }
  // The largest values still parse.
  absl::StatusOr<Checkpoint> largest =
      VerifyCheckpoint(SignText(absl::StrCat("o\n18446744073709551615\n", root,
                                             "\nTimestamp: 9223372036854775807\n")),
                       verifier_);
  ASSERT_THAT(largest, IsOk());
  EXPECT_EQ(largest->size, UINT64_MAX);
}

TEST_F(CheckpointTest, ReadsPublishedCheckpointSignatureButWantsATimestamp) {
  // The sum.golang.org tree head verifies as a note; as an ndx checkpoint it lacks the time.
  EXPECT_THAT(VerifyCheckpoint(kSumDbNote, Parse(kSumDbKey)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("has 3 lines; an ndx checkpoint has exactly 4")));
}

TEST_F(CheckpointTest, RefusesToSignWhatCannotBeRead) {
  Checkpoint checkpoint = Example();
  for (const char* origin : {"", "two\nlines", "tab\there", "\xff"}) {
    checkpoint.origin = origin;
    EXPECT_THAT(SignCheckpoint(checkpoint, kOrigin, key_),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("origin")))
        << origin;
  }
  checkpoint = Example();
  for (const char* name : {"", "with space", "with+plus", "nbsp\xC2\xA0"}) {
    EXPECT_THAT(SignCheckpoint(checkpoint, name, key_),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key name")))
        << name;
  }
  for (absl::Time time :
       {absl::UnixEpoch() - absl::Nanoseconds(1), absl::InfiniteFuture(), absl::InfinitePast()}) {
    checkpoint.time = time;
    EXPECT_THAT(SignCheckpoint(checkpoint, kOrigin, key_),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("checkpoint time")));
  }
}

}  // namespace
}  // namespace ndx::audit
