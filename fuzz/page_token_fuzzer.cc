// Page tokens: a consumer hands back whatever it likes as a page token. A token redeems only as
// issued, for the query it was issued for (filters in any order), before it expires; anything
// else is refused, without a crash, before a byte of it reaches an adapter.
//
// Input: two query bindings (caller, dataset, grant, purpose, filters, fields), the adapter's
// token, then a token to redeem as is. The target issues a token for the first binding and
// redeems it for the second: it must redeem exactly when the two bindings are the same query.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "crypto/sealer.h"
#include "fuzz_check.h"
#include "fuzz_input.h"
#include "gateway/page_tokens.h"

namespace {

using ndx::gateway::PageBinding;
using ndx::gateway::PageTokens;

class FixedClock : public ndx::Clock {
 public:
  absl::Time Now() const override { return now; }
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
};

constexpr absl::Duration kLifetime = absl::Hours(1);

struct Query {
  std::string caller, dataset, grant_id, purpose;
  google::protobuf::RepeatedPtrField<ndx::v1::Filter> filters;
  std::vector<std::string> fields;

  PageBinding Binding() const {
    return {.caller = caller,
            .dataset = dataset,
            .grant_id = grant_id,
            .purpose = purpose,
            .filters = filters,
            .fields = fields};
  }

  // The filters as a sorted list: their order does not change a query.
  std::vector<std::pair<std::string, std::string>> FilterSet() const {
    std::vector<std::pair<std::string, std::string>> set;
    for (const ndx::v1::Filter& filter : filters) set.emplace_back(filter.field(), filter.value());
    std::sort(set.begin(), set.end());
    return set;
  }

  bool SameQuery(const Query& other) const {
    return std::tie(caller, dataset, grant_id, purpose, fields) ==
               std::tie(other.caller, other.dataset, other.grant_id, other.purpose, other.fields) &&
           FilterSet() == other.FilterSet();
  }
};

Query TakeQuery(ndx::fuzz::FuzzInput& input) {
  Query query;
  query.caller = input.TakeString(16);
  query.dataset = input.TakeString(16);
  query.grant_id = input.TakeString(16);
  query.purpose = input.TakeString(16);
  for (int count = input.TakeByte() % 4; count > 0; --count) {
    ndx::v1::Filter* filter = query.filters.Add();
    filter->set_field(input.TakeString(8));
    filter->set_value(input.TakeString(16));
  }
  for (int count = input.TakeByte() % 4; count > 0; --count) {
    query.fields.push_back(input.TakeString(8));
  }
  return query;
}

const PageTokens& Tokens(FixedClock** clock_out) {
  static FixedClock* clock = new FixedClock;
  static const PageTokens* tokens = [] {
    absl::StatusOr<ndx::crypto::Sealer> sealer =
        ndx::crypto::Sealer::Create(std::string(32, 'k'), "page-token");
    NDX_FUZZ_CHECK(sealer.ok(), "the sealer is made");
    return new PageTokens(*std::move(sealer), clock, kLifetime);
  }();
  *clock_out = clock;
  return *tokens;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FixedClock* clock = nullptr;
  const PageTokens& tokens = Tokens(&clock);
  clock->now = absl::FromUnixSeconds(1'800'000'000);
  ndx::fuzz::FuzzInput input(data, size);
  const Query issued_for = TakeQuery(input);
  const Query redeemed_for = input.TakeByte() % 2 == 0 ? issued_for : TakeQuery(input);
  std::string adapter_token = input.TakeString(64);
  if (adapter_token.empty()) adapter_token.push_back('k');  // GCC 12 warns, wrongly, on = "k"
  const uint8_t flip = input.TakeByte();
  const absl::string_view arbitrary = input.TakeRest();

  absl::StatusOr<std::string> forged = tokens.Redeem(issued_for.Binding(), arbitrary);
  NDX_FUZZ_CHECK(!forged.ok(), "a token the gateway did not issue is refused");
  NDX_FUZZ_CHECK(forged.status().code() == absl::StatusCode::kInvalidArgument,
                 "a refused token is kInvalidArgument");

  const std::string token = tokens.Issue(issued_for.Binding(), adapter_token);
  NDX_FUZZ_CHECK(adapter_token.size() < 12 || token.find(adapter_token) == std::string::npos,
                 "a token does not show the adapter's token (a record key)");
  absl::StatusOr<std::string> redeemed = tokens.Redeem(redeemed_for.Binding(), token);
  NDX_FUZZ_CHECK(redeemed.ok() == issued_for.SameQuery(redeemed_for),
                 "a token redeems exactly for the query it was issued for");
  if (redeemed.ok()) {
    NDX_FUZZ_CHECK(*redeemed == adapter_token, "a token gives back the adapter's token");
  }

  // One character changed for another of the base64url alphabet.
  constexpr absl::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string altered = token;
  char& character = altered[flip % altered.size()];
  const char replacement = kAlphabet[(kAlphabet.find(character) + 1 + flip / 4 % 63) % 64];
  character = replacement;
  NDX_FUZZ_CHECK(!tokens.Redeem(issued_for.Binding(), altered).ok(), "an altered token is refused");

  clock->now += kLifetime + absl::Seconds(1);
  NDX_FUZZ_CHECK(!tokens.Redeem(issued_for.Binding(), token).ok(), "an expired token is refused");
  return 0;
}
