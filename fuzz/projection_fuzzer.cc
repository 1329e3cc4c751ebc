// The wire-format projection: the gateway keeps only the fields a grant allows out of the bytes
// an owner's adapter returns, and reads the data subject from them, without parsing the record.
// The adapter is trusted for its data, not for its bytes: a malformed record must be refused,
// never crash the gateway nor let a field through that the grant does not cover.
//
// Input: the allowed field numbers (a count, then 1-4 bytes each), then the record. The
// projection is checked against protobuf's own parser (UnknownFieldSet): both accept the same
// records, and the projection holds exactly the allowed fields, bytes unchanged.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "fuzz_check.h"
#include "fuzz_input.h"
#include "gateway/projection.h"
#include "google/protobuf/unknown_field_set.h"

namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

// Protobuf's largest field number.
constexpr uint64_t kMaxFieldNumber = (1u << 29) - 1;

bool Allowed(const std::vector<int>& allowed, int number) {
  return std::binary_search(allowed.begin(), allowed.end(), number);
}

// The fields of `set` whose numbers are allowed, in order, as serialized by protobuf.
std::string SerializeAllowed(const UnknownFieldSet& set, const std::vector<int>& allowed) {
  UnknownFieldSet kept;
  for (int i = 0; i < set.field_count(); ++i) {
    if (Allowed(allowed, set.field(i).number())) kept.AddField(set.field(i));
  }
  std::string out;
  kept.SerializeToString(&out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ndx::fuzz::FuzzInput input(data, size);
  std::vector<int> allowed;
  for (int count = input.TakeByte() % 8; count > 0; --count) {
    // Mostly small numbers, as schemas have, sometimes any.
    uint64_t number =
        input.TakeByte() < 224 ? 1 + input.TakeBelow(32) : 1 + input.TakeBelow(kMaxFieldNumber);
    allowed.push_back(static_cast<int>(number));
  }
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  const absl::string_view record = input.TakeRest();

  absl::StatusOr<std::string> projected = ndx::gateway::ProjectFields(record, allowed);
  UnknownFieldSet parsed;
  const bool protobuf_accepts =
      parsed.ParseFromArray(record.data(), static_cast<int>(record.size()));
  NDX_FUZZ_CHECK(projected.ok() == protobuf_accepts,
                 "the projection accepts exactly the records protobuf parses");
  if (!projected.ok()) {
    NDX_FUZZ_CHECK(projected.status().code() == absl::StatusCode::kInternal,
                   "a malformed record is kInternal");
    NDX_FUZZ_CHECK(!ndx::gateway::FieldAsText(record, 1).ok(),
                   "the subject is not read from a malformed record");
    return 0;
  }

  UnknownFieldSet kept;
  NDX_FUZZ_CHECK(kept.ParseFromString(*projected), "a projection is a valid record");
  for (int i = 0; i < kept.field_count(); ++i) {
    NDX_FUZZ_CHECK(Allowed(allowed, kept.field(i).number()),
                   "a projection holds only allowed fields");
  }
  NDX_FUZZ_CHECK(SerializeAllowed(kept, allowed) == SerializeAllowed(parsed, allowed),
                 "a projection holds every allowed field, in order, with its value");
  absl::StatusOr<std::string> again = ndx::gateway::ProjectFields(*projected, allowed);
  NDX_FUZZ_CHECK(again.ok() && *again == *projected, "projecting a projection changes nothing");

  // The subject: read from the record as a parse would, and from the projection alike when the
  // grant covers it.
  for (int number : {1, 2, 3}) {
    absl::StatusOr<std::string> text = ndx::gateway::FieldAsText(record, number);
    NDX_FUZZ_CHECK(text.ok(), "any field of a valid record can be read");
    absl::StatusOr<std::string> projected_text = ndx::gateway::FieldAsText(*projected, number);
    NDX_FUZZ_CHECK(projected_text.ok(), "any field of a projection can be read");
    if (Allowed(allowed, number)) {
      NDX_FUZZ_CHECK(*projected_text == *text, "an allowed field reads the same once projected");
    } else {
      NDX_FUZZ_CHECK(projected_text->empty(), "a field not allowed is gone from the projection");
    }
  }
  return 0;
}
