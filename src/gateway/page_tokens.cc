#include "gateway/page_tokens.h"

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace ndx::gateway {
namespace {

constexpr size_t kTimeBytes = 8;

void StoreBigEndian(uint64_t value, char* out) {
  for (int i = 7; i >= 0; --i, value >>= 8) out[i] = static_cast<char>(value & 0xff);
}

uint64_t LoadBigEndian(const char* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

void AppendPart(absl::string_view part, std::string* out) {
  absl::StrAppend(out, part.size(), ":", part);
}

// The authenticated (not stored) part of a token: every part of the binding, each with its
// size so that no two bindings spell the same text; filters sorted, since their order does not
// change the query.
std::string AssociatedData(const PageBinding& binding) {
  std::string text;
  for (absl::string_view part :
       {binding.caller, binding.dataset, binding.grant_id, binding.purpose}) {
    AppendPart(part, &text);
  }
  std::vector<const v1::Filter*> filters;
  for (const v1::Filter& filter : binding.filters) filters.push_back(&filter);
  std::sort(filters.begin(), filters.end(), [](const v1::Filter* a, const v1::Filter* b) {
    return std::tie(a->field(), a->value()) < std::tie(b->field(), b->value());
  });
  absl::StrAppend(&text, "filters", filters.size(), ":");
  for (const v1::Filter* filter : filters) {
    AppendPart(filter->field(), &text);
    AppendPart(filter->value(), &text);
  }
  absl::StrAppend(&text, "fields", binding.fields.size(), ":");
  for (const std::string& field : binding.fields) AppendPart(field, &text);
  return text;
}

absl::Status NotValid(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "page_token is not valid (", why,
      "): pass back the next_page_token of the previous page unchanged, with the same dataset, "
      "filters, fields and purpose, as the same node; or an empty token for the first page"));
}

}  // namespace

std::string PageTokens::Issue(const PageBinding& binding, absl::string_view adapter_token) const {
  std::string plaintext(kTimeBytes, '\0');
  StoreBigEndian(static_cast<uint64_t>(absl::ToUnixSeconds(clock_->Now())), plaintext.data());
  plaintext.append(adapter_token.data(), adapter_token.size());
  return absl::WebSafeBase64Escape(sealer_.Seal(plaintext, AssociatedData(binding)));
}

absl::StatusOr<std::string> PageTokens::Redeem(const PageBinding& binding,
                                               absl::string_view token) const {
  std::string sealed;
  // Only the encoding Issue produces: the decoder ignores a last character's unused bits, and a
  // token that differs from the one issued must not be accepted.
  if (!absl::WebSafeBase64Unescape(token, &sealed) || absl::WebSafeBase64Escape(sealed) != token) {
    return NotValid("not base64url as issued");
  }
  absl::StatusOr<std::string> plaintext = sealer_.Open(sealed, AssociatedData(binding));
  if (!plaintext.ok() || plaintext->size() <= kTimeBytes) {
    return NotValid("not issued by this gateway for this query, or altered");
  }
  absl::Time issued = absl::FromUnixSeconds(static_cast<int64_t>(LoadBigEndian(plaintext->data())));
  if (clock_->Now() - issued > lifetime_) {
    return absl::InvalidArgumentError(absl::StrCat("page_token expired: tokens are valid for ",
                                                   absl::ToInt64Seconds(lifetime_),
                                                   " s; start again from the first page"));
  }
  return plaintext->substr(kTimeBytes);
}

}  // namespace ndx::gateway
