#ifndef NDX_AUDIT_CHECKPOINT_H_
#define NDX_AUDIT_CHECKPOINT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/hash.h"
#include "crypto/signing.h"

namespace ndx::audit {

// Signed checkpoints of the audit log in the C2SP formats that transparency-log tools read:
// a tlog-checkpoint (https://c2sp.org/tlog-checkpoint) inside a signed note
// (https://c2sp.org/signed-note), signed with an Ed25519 key (signature type 0x01). A checkpoint
// as text:
//
//   ndx.gov.vn/audit/gw1                               origin
//   20852163                                           tree size
//   CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=       base64 RFC 6962 root hash
//   Timestamp: 1700000000123456789                     the time, Unix nanoseconds
//                                                      (blank line)
//   — ndx.gov.vn/audit/gw1 <base64(key id || signature)>
//
// The time travels as an extension line, in the form Rekor (sigstore) puts in its checkpoints
// ("Timestamp: <Unix nanoseconds>", sigstore/rekor pkg/util/checkpoint.go). The checkpoint spec
// allows extension lines (it discourages them only because monitors cannot audit their
// meaning), existing readers keep them (transparency-dev/formats log.Checkpoint returns them as
// opaque lines, golang.org/x/mod/sumdb/tlog ignores them), and the log's Ed25519 signature covers
// them because it signs the whole note text. The other way to carry a time, a tlog-cosignature
// (type 0x04), is a witness's signature over "cosignature/v1\ntime ..." + the body: a log signing
// that way would not verify under the plain Ed25519 verifier key that log clients are given.
// Consistency never depends on the time: it says when the log signed, not what it contains.
//
// All functions are thread-safe.

// One signed tree head: the first `size` entries of the log hash to `root`.
struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  crypto::Sha256Digest root{};
  // When it was signed. Carried in whole nanoseconds since the Unix epoch: SignCheckpoint drops
  // any finer part, and refuses times before the epoch.
  absl::Time time = absl::UnixEpoch();

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// A verifier's view of an Ed25519 note key: its name, its 32-bit key id, its public key.
struct VerifierKey {
  std::string name;
  uint32_t key_id = 0;
  std::string public_key;  // 32 bytes, RFC 8032 encoding
};

// The key id of an Ed25519 note key: the first 4 bytes, big-endian, of
// SHA-256(name || "\n" || 0x01 || public_key).
uint32_t Ed25519KeyId(absl::string_view name, absl::string_view public_key);

// OK when `name` can name a note key (and so a log's origin, which the gateway also uses as its
// key name): non-empty UTF-8 without Unicode space, '+' or control characters. kInvalidArgument
// saying which.
absl::Status ValidateKeyName(absl::string_view name);

// The verifier key text "<name>+<key id, 8 lower-case hex digits>+<base64(0x01 || public_key)>",
// the form golang.org/x/mod/sumdb/note and the C2SP tools exchange keys in.
// REQUIRES: `name` is a valid key name (non-empty, no Unicode space, no '+') and `public_key` is
// 32 bytes; otherwise the text will not parse back.
std::string FormatVerifierKey(absl::string_view name, absl::string_view public_key);

// Parses a verifier key text. kInvalidArgument, saying what is wrong, for a malformed text, an
// invalid name, a key id that does not match the name and key, a signature type other than
// Ed25519 (0x01), or a key that is not 32 bytes.
absl::StatusOr<VerifierKey> ParseVerifierKey(absl::string_view text);

// The signed note of `text` with one signature by `key` under `key_name`: text, blank line,
// signature line. kInvalidArgument when `text` is empty, does not end in a newline, is not UTF-8
// or holds a control character other than newline, or is over 1 MiB, or `key_name` is invalid.
absl::StatusOr<std::string> SignNote(absl::string_view text, absl::string_view key_name,
                                     const crypto::SigningKey& key);

// The text of `note` once a signature by `key` verifies. Signatures by other keys (another name,
// or the same name with another key id) are ignored, as the signed-note spec requires, so that
// witness cosignatures and key rotation do not break verification.
//   kInvalidArgument: not a well-formed signed note (not UTF-8, a control character, no final
//     newline, no blank line before the signatures, a malformed signature line or its base64,
//     a note over 1 MiB, more than 100 signatures).
//   kUnauthenticated: no signature by `key` (name and key id).
//   kDataLoss: a signature by `key` does not verify: the text or the signature was altered.
absl::StatusOr<std::string> OpenNote(absl::string_view note, const VerifierKey& key);

// The checkpoint note of `checkpoint` signed by `key` under `key_name` (which the spec says
// should be the origin). kInvalidArgument for an empty origin, an origin holding a newline,
// another control character or invalid UTF-8, an invalid key name, or a time before the Unix
// epoch or infinite.
absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint, absl::string_view key_name,
                                           const crypto::SigningKey& key);

// Verifies `note` as OpenNote does, then parses its text strictly as a checkpoint made by
// SignCheckpoint: exactly the origin, a canonical decimal size (no sign, no leading zero), the
// canonical base64 of 32 bytes, and a "Timestamp: " line with canonical decimal nanoseconds;
// anything else is kInvalidArgument. The caller checks that the origin is the log it expects.
absl::StatusOr<Checkpoint> VerifyCheckpoint(absl::string_view note, const VerifierKey& key);

}  // namespace ndx::audit

#endif  // NDX_AUDIT_CHECKPOINT_H_
