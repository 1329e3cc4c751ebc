// Signed notes and checkpoints: what an auditor's `ndxctl audit verify` reads from a gateway it
// does not trust, and what witnesses will exchange. The input is used three ways:
//   - as a note to open and a checkpoint to verify under the target's key (nothing the target
//     did not sign may verify);
//   - as a text to sign: a signed text opens to itself, and one altered byte breaks it;
//   - as a checkpoint body, signed, so that the strict checkpoint parser behind the signature
//     check sees arbitrary text: what it accepts is exactly what SignCheckpoint writes.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "audit/checkpoint.h"
#include "crypto/signing.h"
#include "fuzz_check.h"

namespace {

using ndx::audit::Checkpoint;
using ndx::audit::VerifierKey;

constexpr absl::string_view kKeyName = "fuzz.test/audit";

struct Keys {
  ndx::crypto::SigningKey signing;
  VerifierKey verifier;
};

const Keys& TheKeys() {
  static const Keys* keys = [] {
    absl::StatusOr<ndx::crypto::SigningKey> signing =
        ndx::crypto::SigningKey::FromRawPrivateKeyForTest(std::string(32, '\x5a'));
    NDX_FUZZ_CHECK(signing.ok(), "the signing key is made");
    absl::StatusOr<VerifierKey> verifier = ndx::audit::ParseVerifierKey(
        ndx::audit::FormatVerifierKey(kKeyName, signing->public_key()));
    NDX_FUZZ_CHECK(verifier.ok(), "the verifier key parses");
    return new Keys{*std::move(signing), *std::move(verifier)};
  }();
  return *keys;
}

bool IsRefusal(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ||
         status.code() == absl::StatusCode::kUnauthenticated ||
         status.code() == absl::StatusCode::kDataLoss;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Keys& keys = TheKeys();
  const absl::string_view input(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<std::string> opened = ndx::audit::OpenNote(input, keys.verifier);
  if (opened.ok()) {
    NDX_FUZZ_CHECK(absl::StartsWith(input, *opened), "an opened note's text begins the note");
  } else {
    NDX_FUZZ_CHECK(IsRefusal(opened.status()), "a refused note says why with its code");
  }
  absl::StatusOr<Checkpoint> verified = ndx::audit::VerifyCheckpoint(input, keys.verifier);
  NDX_FUZZ_CHECK(verified.ok() || IsRefusal(verified.status()),
                 "a refused checkpoint says why with its code");
  NDX_FUZZ_CHECK(!verified.ok() || opened.ok(), "a verified checkpoint is an opened note");

  absl::StatusOr<std::string> note = ndx::audit::SignNote(input, kKeyName, keys.signing);
  if (!note.ok()) return 0;
  absl::StatusOr<std::string> text = ndx::audit::OpenNote(*note, keys.verifier);
  NDX_FUZZ_CHECK(text.ok() && *text == input, "a signed text opens to itself");
  std::string altered = *note;
  altered[data[0] % input.size()] ^= 0x01;
  absl::StatusOr<std::string> altered_text = ndx::audit::OpenNote(altered, keys.verifier);
  NDX_FUZZ_CHECK(!altered_text.ok(), "a note whose text was altered does not open");

  absl::StatusOr<Checkpoint> checkpoint = ndx::audit::VerifyCheckpoint(*note, keys.verifier);
  if (!checkpoint.ok()) {
    NDX_FUZZ_CHECK(checkpoint.status().code() == absl::StatusCode::kInvalidArgument,
                   "a signed text that is not a checkpoint is kInvalidArgument");
    return 0;
  }
  absl::StatusOr<std::string> resigned =
      ndx::audit::SignCheckpoint(*checkpoint, kKeyName, keys.signing);
  NDX_FUZZ_CHECK(resigned.ok(), "an accepted checkpoint can be signed again");
  NDX_FUZZ_CHECK(*resigned == *note, "a checkpoint has one text: the one SignCheckpoint writes");
  return 0;
}
