#include "adapters/page_token.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace ndx::adapters {
namespace {

constexpr char kVersion = 1;
constexpr size_t kDigestBytes = 8;
constexpr size_t kChecksumBytes = 8;

// FNV-1a, 64 bits: stable across processes and builds (absl::Hash is not), which tokens need.
uint64_t Fnv1a(absl::string_view data) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string BigEndian(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return out;
}

// Length-prefixed parts, so that ("a", "bc") and ("ab", "c") differ; filters sorted by field so
// that their order does not matter.
std::string QueryDigest(const Binding& binding, const std::vector<FieldFilter>& filters) {
  std::vector<const FieldFilter*> sorted;
  for (const FieldFilter& filter : filters) sorted.push_back(&filter);
  std::sort(sorted.begin(), sorted.end(), [](const FieldFilter* a, const FieldFilter* b) {
    return a->field != b->field ? a->field < b->field : a->value < b->value;
  });
  std::string text = absl::StrCat(binding.dataset.size(), ":", binding.dataset);
  for (const FieldFilter* filter : sorted) {
    absl::StrAppend(&text, filter->field.size(), ":", filter->field, filter->value.size(), ":",
                    filter->value);
  }
  return BigEndian(Fnv1a(text));
}

absl::Status NotOurs(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "page_token is not valid (", why,
      "): pass back the next_page_token of the previous page "
      "unchanged, with the same dataset and filters, or an empty token for the first page"));
}

}  // namespace

std::string EncodePageToken(const Binding& binding, const std::vector<FieldFilter>& filters,
                            absl::string_view position) {
  std::string payload =
      absl::StrCat(absl::string_view(&kVersion, 1), QueryDigest(binding, filters), position);
  absl::StrAppend(&payload, BigEndian(Fnv1a(payload)));
  return absl::WebSafeBase64Escape(payload);
}

absl::StatusOr<std::string> DecodePageToken(const Binding& binding,
                                            const std::vector<FieldFilter>& filters,
                                            absl::string_view token) {
  std::string payload;
  if (!absl::WebSafeBase64Unescape(token, &payload)) return NotOurs("not base64");
  if (payload.size() < 1 + kDigestBytes + kChecksumBytes) return NotOurs("too short");
  absl::string_view body(payload.data(), payload.size() - kChecksumBytes);
  if (payload.substr(body.size()) != BigEndian(Fnv1a(body))) return NotOurs("checksum mismatch");
  if (body[0] != kVersion) return NotOurs("unknown version");
  if (body.substr(1, kDigestBytes) != QueryDigest(binding, filters)) {
    return NotOurs("it was issued for another dataset or other filters");
  }
  return std::string(body.substr(1 + kDigestBytes));
}

}  // namespace ndx::adapters
