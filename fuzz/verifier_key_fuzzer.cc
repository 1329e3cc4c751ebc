// Verifier keys: an auditor is given the log's key as text, and witnesses will publish theirs.
// An accepted key text is the one FormatVerifierKey writes for its name and key (the key id's hex
// digits in either case), and its key id is the one its name and key define.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "audit/checkpoint.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ndx::audit::VerifierKey> key = ndx::audit::ParseVerifierKey(text);
  if (!key.ok()) {
    NDX_FUZZ_CHECK(key.status().code() == absl::StatusCode::kInvalidArgument,
                   "a refused key text is kInvalidArgument");
    return 0;
  }
  NDX_FUZZ_CHECK(key->public_key.size() == 32, "an accepted key is an Ed25519 public key");
  NDX_FUZZ_CHECK(key->key_id == ndx::audit::Ed25519KeyId(key->name, key->public_key),
                 "an accepted key's id is the one its name and key define");
  const std::string formatted = ndx::audit::FormatVerifierKey(key->name, key->public_key);
  // name '+' 8 hex digits '+' base64: only the hex digits may differ, in case.
  const size_t id_at = key->name.size() + 1;
  std::string canonical(text);
  if (canonical.size() >= id_at + 8) {
    for (size_t i = id_at; i < id_at + 8; ++i) canonical[i] = absl::ascii_tolower(canonical[i]);
  }
  NDX_FUZZ_CHECK(formatted == canonical, "an accepted key text is its canonical form");
  absl::StatusOr<ndx::audit::VerifierKey> again = ndx::audit::ParseVerifierKey(formatted);
  NDX_FUZZ_CHECK(again.ok() && again->name == key->name && again->key_id == key->key_id &&
                     again->public_key == key->public_key,
                 "a formatted key parses back to itself");
  return 0;
}
