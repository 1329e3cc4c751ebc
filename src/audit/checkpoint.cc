#include "audit/checkpoint.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace ndx::audit {
namespace {

// Go's golang.org/x/mod/sumdb/note accepts at most 100 signatures; the signed-note spec asks for
// at least 16. A checkpoint is a few hundred bytes: 1 MiB bounds the work a hostile note causes.
constexpr size_t kMaxNoteBytes = 1 << 20;
constexpr size_t kMaxSignatures = 100;
constexpr absl::string_view kSignaturePrefix = "\xE2\x80\x94 ";  // U+2014 EM DASH, space
constexpr char kEd25519Type = 0x01;
constexpr absl::string_view kTimestampPrefix = "Timestamp: ";

absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }

// Decodes the UTF-8 sequence at s[*i], advancing *i; false when it is malformed (overlong,
// surrogate, beyond U+10FFFF, truncated).
bool NextCodePoint(absl::string_view s, size_t* i, char32_t* out) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char lead = byte(*i);
  size_t length = lead < 0x80           ? 1
                  : (lead >> 5) == 0x6  ? 2
                  : (lead >> 4) == 0xE  ? 3
                  : (lead >> 3) == 0x1E ? 4
                                        : 0;
  if (length == 0 || *i + length > s.size()) return false;
  char32_t cp = length == 1 ? lead : lead & (0x7F >> length);
  for (size_t k = 1; k < length; ++k) {
    if ((byte(*i + k) & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (byte(*i + k) & 0x3F);
  }
  constexpr char32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  *i += length;
  *out = cp;
  return true;
}

// Unicode White_Space, the set Go's unicode.IsSpace tests for key names.
bool IsUnicodeSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// The signed-note spec: valid UTF-8, and no ASCII control character but newline.
absl::Status CheckNoteCharacters(absl::string_view s, absl::string_view what) {
  for (size_t i = 0; i < s.size();) {
    size_t at = i;
    char32_t c;
    if (!NextCodePoint(s, &i, &c)) {
      return Invalid(absl::StrCat(what, " is not valid UTF-8 at byte ", at));
    }
    if (c < 0x20 && c != '\n') {
      return Invalid(absl::StrCat(what, " holds control character 0x",
                                  absl::Hex(static_cast<uint32_t>(c), absl::kZeroPad2), " at byte ",
                                  at, "; only newline is allowed"));
    }
  }
  return absl::OkStatus();
}

// Standard base64 with padding, accepted only in its one canonical spelling (which also rules out
// whitespace and non-zero padding bits), so that a note has exactly one encoding.
bool DecodeCanonicalBase64(absl::string_view in, std::string* out) {
  return !in.empty() && absl::Base64Unescape(in, out) && absl::Base64Escape(*out) == in;
}

// ASCII decimal without sign or leading zero, within `max`.
absl::StatusOr<uint64_t> ParseCanonicalDecimal(absl::string_view text, uint64_t max,
                                               absl::string_view what) {
  uint64_t value = 0;
  bool digits = !text.empty() && std::all_of(text.begin(), text.end(), absl::ascii_isdigit);
  if (!digits || (text.size() > 1 && text[0] == '0') || !absl::SimpleAtoi(text, &value) ||
      value > max) {
    return Invalid(absl::StrCat(what, " \"", absl::CHexEscape(text),
                                "\" is not a canonical decimal number (digits only, no leading "
                                "zero, at most ",
                                max, ")"));
  }
  return value;
}

std::string KeyIdHex(uint32_t key_id) { return absl::StrCat(absl::Hex(key_id, absl::kZeroPad8)); }

std::string BigEndian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

uint32_t ReadBigEndian(absl::string_view b) {
  return static_cast<uint32_t>(static_cast<unsigned char>(b[0])) << 24 |
         static_cast<uint32_t>(static_cast<unsigned char>(b[1])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(b[2])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(b[3]));
}

bool ParseHex32(absl::string_view text, uint32_t* out) {
  if (text.size() != 8) return false;
  *out = 0;
  for (char c : text) {
    if (!absl::ascii_isxdigit(c)) return false;
    int digit = absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10;
    *out = (*out << 4) | static_cast<uint32_t>(digit);
  }
  return true;
}

// One "— <name> <base64>" line, decoded.
struct SignatureLine {
  std::string name;
  uint32_t key_id = 0;
  std::string signature;  // without the key id
};

absl::StatusOr<SignatureLine> ParseSignatureLine(absl::string_view line, size_t number) {
  std::string where = absl::StrCat("signature line ", number);
  if (!absl::ConsumePrefix(&line, kSignaturePrefix)) {
    return Invalid(absl::StrCat(where, " does not start with an em dash (U+2014) and a space"));
  }
  size_t space = line.find(' ');
  if (space == absl::string_view::npos) {
    return Invalid(absl::StrCat(where, " has no signature after the key name"));
  }
  SignatureLine parsed;
  parsed.name = std::string(line.substr(0, space));
  absl::Status name_status = ValidateKeyName(parsed.name);
  if (!name_status.ok()) return Invalid(absl::StrCat(where, ": ", name_status.message()));
  std::string decoded;
  if (!DecodeCanonicalBase64(line.substr(space + 1), &decoded)) {
    return Invalid(absl::StrCat(where, " (key ", parsed.name,
                                "): the signature is not canonical standard base64"));
  }
  if (decoded.size() < 5) {
    return Invalid(absl::StrCat(where, " (key ", parsed.name, "): ", decoded.size(),
                                " bytes cannot hold a 4-byte key id and a signature"));
  }
  parsed.key_id = ReadBigEndian(decoded);
  parsed.signature = decoded.substr(4);
  return parsed;
}

}  // namespace

absl::Status ValidateKeyName(absl::string_view name) {
  if (name.empty()) return Invalid("a key name must not be empty");
  for (size_t i = 0; i < name.size();) {
    char32_t c;
    if (!NextCodePoint(name, &i, &c)) {
      return Invalid(absl::StrCat("key name \"", absl::CHexEscape(name), "\" is not valid UTF-8"));
    }
    if (IsUnicodeSpace(c) || c == '+' || c < 0x20) {
      return Invalid(absl::StrCat("key name \"", absl::CHexEscape(name),
                                  "\" must not hold spaces, '+' or control characters"));
    }
  }
  return absl::OkStatus();
}

uint32_t Ed25519KeyId(absl::string_view name, absl::string_view public_key) {
  crypto::Sha256Digest digest =
      crypto::Sha256({name, "\n", absl::string_view(&kEd25519Type, 1), public_key});
  return ReadBigEndian(crypto::AsBytes(digest));
}

std::string FormatVerifierKey(absl::string_view name, absl::string_view public_key) {
  return absl::StrCat(
      name, "+", KeyIdHex(Ed25519KeyId(name, public_key)), "+",
      absl::Base64Escape(absl::StrCat(absl::string_view(&kEd25519Type, 1), public_key)));
}

absl::StatusOr<VerifierKey> ParseVerifierKey(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits('+', 2));
  if (parts.size() != 3) {
    return Invalid("a verifier key looks like <name>+<8 hex digits>+<base64 key>");
  }
  VerifierKey key;
  key.name = std::string(parts[0]);
  NDX_RETURN_IF_ERROR(ValidateKeyName(key.name));
  if (!ParseHex32(parts[1], &key.key_id)) {
    return Invalid(absl::StrCat("verifier key ", key.name, ": the key id \"",
                                absl::CHexEscape(parts[1]), "\" is not 8 hex digits"));
  }
  std::string decoded;
  if (!DecodeCanonicalBase64(parts[2], &decoded)) {
    return Invalid(
        absl::StrCat("verifier key ", key.name, ": the key is not canonical standard base64"));
  }
  if (decoded[0] != kEd25519Type) {
    return Invalid(absl::StrCat("verifier key ", key.name, " has signature type 0x",
                                absl::Hex(static_cast<unsigned char>(decoded[0]), absl::kZeroPad2),
                                "; only Ed25519 (0x01) is supported"));
  }
  key.public_key = decoded.substr(1);
  if (key.public_key.size() != crypto::kEd25519PublicKeySize) {
    return Invalid(absl::StrCat("verifier key ", key.name, ": an Ed25519 key is ",
                                crypto::kEd25519PublicKeySize, " bytes, not ",
                                key.public_key.size()));
  }
  uint32_t expected = Ed25519KeyId(key.name, key.public_key);
  if (key.key_id != expected) {
    return Invalid(absl::StrCat("verifier key ", key.name, ": key id ", parts[1],
                                " does not match the name and key (they give ", KeyIdHex(expected),
                                "); the key text is corrupt"));
  }
  return key;
}

absl::StatusOr<std::string> SignNote(absl::string_view text, absl::string_view key_name,
                                     const crypto::SigningKey& key) {
  if (text.empty() || text.back() != '\n') {
    return Invalid("a note text must be non-empty and end with a newline");
  }
  NDX_RETURN_IF_ERROR(CheckNoteCharacters(text, "the note text"));
  NDX_RETURN_IF_ERROR(ValidateKeyName(key_name));
  NDX_ASSIGN_OR_RETURN(std::string signature, key.Sign(text));
  std::string note = absl::StrCat(
      text, "\n", kSignaturePrefix, key_name, " ",
      absl::Base64Escape(BigEndian(Ed25519KeyId(key_name, key.public_key())) + signature), "\n");
  if (note.size() > kMaxNoteBytes) {
    return Invalid(absl::StrCat("the signed note would be ", note.size(), " bytes; at most ",
                                kMaxNoteBytes, " are accepted"));
  }
  return note;
}

absl::StatusOr<std::string> OpenNote(absl::string_view note, const VerifierKey& key) {
  if (note.size() > kMaxNoteBytes) {
    return Invalid(absl::StrCat("the signed note is ", note.size(), " bytes; at most ",
                                kMaxNoteBytes, " are accepted"));
  }
  NDX_RETURN_IF_ERROR(CheckNoteCharacters(note, "the signed note"));
  if (note.empty() || note.back() != '\n') {
    return Invalid("the signed note does not end with a newline (it may be truncated)");
  }
  // The text ends at the last blank line: the text may hold blank lines, the signatures never.
  size_t split = note.rfind("\n\n");
  if (split == absl::string_view::npos) {
    return Invalid("the signed note has no blank line between its text and its signatures");
  }
  absl::string_view text = note.substr(0, split + 1);
  absl::string_view signatures = note.substr(split + 2);
  if (signatures.empty()) return Invalid("the signed note has no signature line");
  signatures.remove_suffix(1);  // the final newline
  std::vector<absl::string_view> lines = absl::StrSplit(signatures, '\n');
  if (lines.size() > kMaxSignatures) {
    return Invalid(absl::StrCat("the signed note has ", lines.size(), " signatures; at most ",
                                kMaxSignatures, " are accepted"));
  }
  // Every line is checked before any signature is, so that a malformed note is always reported as
  // such whatever the order of its lines.
  std::vector<std::string> ours;
  std::vector<std::string> others;
  for (size_t i = 0; i < lines.size(); ++i) {
    NDX_ASSIGN_OR_RETURN(SignatureLine line, ParseSignatureLine(lines[i], i + 1));
    if (line.name == key.name && line.key_id == key.key_id) {
      ours.push_back(std::move(line.signature));
    } else {
      others.push_back(absl::StrCat(line.name, "+", KeyIdHex(line.key_id)));
    }
  }
  std::string key_label = absl::StrCat(key.name, "+", KeyIdHex(key.key_id));
  if (ours.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the note is not signed by key ", key_label, "; it is signed by ",
        absl::StrJoin(others.begin(), others.begin() + std::min<size_t>(others.size(), 5), ", "),
        others.size() > 5 ? " and others" : ""));
  }
  for (const std::string& signature : ours) {
    absl::Status verified = crypto::VerifyEd25519(key.public_key, text, signature);
    if (verified.code() == absl::StatusCode::kInvalidArgument &&
        key.public_key.size() != crypto::kEd25519PublicKeySize) {
      return Invalid(absl::StrCat("verifier key ", key_label, ": ", verified.message()));
    }
    if (!verified.ok()) {
      return absl::DataLossError(absl::StrCat("the signature by key ", key_label,
                                              " does not verify (", verified.message(),
                                              "): the note text or its signature was altered"));
    }
  }
  return std::string(text);
}

absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint, absl::string_view key_name,
                                           const crypto::SigningKey& key) {
  if (checkpoint.origin.empty()) return Invalid("the checkpoint origin must not be empty");
  if (absl::StrContains(checkpoint.origin, '\n')) {
    return Invalid("the checkpoint origin must be one line");
  }
  NDX_RETURN_IF_ERROR(CheckNoteCharacters(checkpoint.origin, "the checkpoint origin"));
  const absl::Time latest = absl::FromUnixNanos(std::numeric_limits<int64_t>::max());
  if (checkpoint.time < absl::UnixEpoch() || checkpoint.time > latest) {
    return Invalid(absl::StrCat("the checkpoint time ", absl::FormatTime(checkpoint.time),
                                " is outside what a checkpoint carries (Unix nanoseconds, from "
                                "1970 to 2262)"));
  }
  std::string text = absl::StrCat(checkpoint.origin, "\n", checkpoint.size, "\n",
                                  absl::Base64Escape(crypto::AsBytes(checkpoint.root)), "\n",
                                  kTimestampPrefix, absl::ToUnixNanos(checkpoint.time), "\n");
  return SignNote(text, key_name, key);
}

absl::StatusOr<Checkpoint> VerifyCheckpoint(absl::string_view note, const VerifierKey& key) {
  NDX_ASSIGN_OR_RETURN(std::string text, OpenNote(note, key));
  absl::string_view body(text);
  body.remove_suffix(1);  // OpenNote's text ends with a newline
  std::vector<absl::string_view> lines = absl::StrSplit(body, '\n');
  if (lines.size() != 4) {
    return Invalid(
        absl::StrCat("the checkpoint has ", lines.size(),
                     " lines; an ndx checkpoint has exactly 4: origin, tree size, root hash, \"",
                     kTimestampPrefix, "<Unix nanoseconds>\""));
  }
  Checkpoint checkpoint;
  checkpoint.origin = std::string(lines[0]);
  if (checkpoint.origin.empty()) return Invalid("checkpoint line 1 (origin) is empty");
  NDX_ASSIGN_OR_RETURN(checkpoint.size,
                       ParseCanonicalDecimal(lines[1], std::numeric_limits<uint64_t>::max(),
                                             "checkpoint line 2 (tree size)"));
  std::string root;
  if (!DecodeCanonicalBase64(lines[2], &root) || root.size() != checkpoint.root.size()) {
    return Invalid(absl::StrCat("checkpoint line 3 (root hash) \"", absl::CHexEscape(lines[2]),
                                "\" is not the canonical base64 of 32 bytes"));
  }
  std::copy(root.begin(), root.end(), checkpoint.root.begin());
  absl::string_view time = lines[3];
  if (!absl::ConsumePrefix(&time, kTimestampPrefix)) {
    return Invalid(absl::StrCat("checkpoint line 4 \"", absl::CHexEscape(lines[3]), "\" is not \"",
                                kTimestampPrefix, "<Unix nanoseconds>\""));
  }
  NDX_ASSIGN_OR_RETURN(uint64_t nanos,
                       ParseCanonicalDecimal(time, std::numeric_limits<int64_t>::max(),
                                             "checkpoint line 4 (timestamp)"));
  checkpoint.time = absl::FromUnixNanos(static_cast<int64_t>(nanos));
  return checkpoint;
}

}  // namespace ndx::audit
