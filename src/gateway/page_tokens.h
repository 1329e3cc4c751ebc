#ifndef NDX_GATEWAY_PAGE_TOKENS_H_
#define NDX_GATEWAY_PAGE_TOKENS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/clock.h"
#include "crypto/sealer.h"
#include "ndx/v1/exchange.pb.h"

namespace ndx::gateway {

// What a page token continues: the query as the gateway authorized it. A token redeems only for
// the same caller, dataset, grant, purpose, filters (in any order) and returned fields.
struct PageBinding {
  absl::string_view caller;
  absl::string_view dataset;
  absl::string_view grant_id;
  absl::string_view purpose;
  const google::protobuf::RepeatedPtrField<v1::Filter>& filters;
  // The fields the grant lets through, in schema order.
  absl::Span<const std::string> fields;
};

// The next_page_token of Query answers. An adapter's own token names the last key it returned,
// in the clear; the consumer gets it sealed (crypto::Sealer) with the time it was issued, under
// a key only the gateway holds, and bound to the query (PageBinding). So a token reveals no key
// to a consumer whose grant does not cover the key field, and an altered, forged, expired or
// borrowed token (another consumer's, other filters, a grant since replaced) is refused before
// anything reaches the adapter. Thread-safe (immutable).
class PageTokens {
 public:
  PageTokens(crypto::Sealer sealer, const Clock* clock, absl::Duration lifetime)
      : sealer_(std::move(sealer)), clock_(clock), lifetime_(lifetime) {}

  // The consumer's token for `adapter_token` (non-empty).
  std::string Issue(const PageBinding& binding, absl::string_view adapter_token) const;

  // The adapter's token inside `token`; kInvalidArgument, saying what must match, when the token
  // is not one this gateway issued for `binding`, or it expired.
  absl::StatusOr<std::string> Redeem(const PageBinding& binding, absl::string_view token) const;

 private:
  const crypto::Sealer sealer_;
  const Clock* const clock_;
  const absl::Duration lifetime_;
};

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_PAGE_TOKENS_H_
