#include "gateway/page_tokens.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "testing/fake_clock.h"
#include "testing/status_matchers.h"

namespace ndx::gateway {
namespace {

using ::ndx::testing::FakeClock;
using ::ndx::testing::IsOkAndHolds;
using ::ndx::testing::StatusIs;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1767225600);

v1::Filter MakeFilter(const std::string& field, const std::string& value) {
  v1::Filter filter;
  filter.set_field(field);
  filter.set_value(value);
  return filter;
}

// An adapter token that names the last key in the clear, as adapters' tokens do.
constexpr char kAdapterToken[] = "position:001099912345";

class PageTokensTest : public ::testing::Test {
 protected:
  PageTokensTest()
      : tokens_(*crypto::Sealer::Create(std::string(32, 's'), "page tokens"), &clock_,
                absl::Hours(1)) {
    *filters_.Add() = MakeFilter("province", "Hanoi");
    *filters_.Add() = MakeFilter("sex", "female");
  }

  PageBinding Binding() const {
    return {.caller = caller_,
            .dataset = "mops/residents",
            .grant_id = grant_,
            .purpose = "statistics",
            .filters = filters_,
            .fields = fields_};
  }

  FakeClock clock_{kNow};
  PageTokens tokens_;
  std::string caller_ = "moh/insurance";
  std::string grant_ = "g-1";
  google::protobuf::RepeatedPtrField<v1::Filter> filters_;
  std::vector<std::string> fields_ = {"full_name", "birth_date"};
};

TEST_F(PageTokensTest, RedeemsForTheSameQueryWithFiltersInAnyOrder) {
  std::string token = tokens_.Issue(Binding(), kAdapterToken);
  EXPECT_THAT(tokens_.Redeem(Binding(), token), IsOkAndHolds(std::string(kAdapterToken)));
  filters_.SwapElements(0, 1);
  EXPECT_THAT(tokens_.Redeem(Binding(), token), IsOkAndHolds(std::string(kAdapterToken)));
}

TEST_F(PageTokensTest, TokenRevealsNothingOfTheAdapterToken) {
  std::string token = tokens_.Issue(Binding(), kAdapterToken);
  std::string bytes;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &bytes));
  for (const std::string& text : {token, bytes}) {
    EXPECT_EQ(text.find("001099912345"), std::string::npos);
    EXPECT_EQ(text.find("position"), std::string::npos);
  }
}

TEST_F(PageTokensTest, RefusedForAnyOtherPartOfTheQuery) {
  std::string token = tokens_.Issue(Binding(), kAdapterToken);
  auto refused = [&]() {
    return StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token is not valid"));
  };
  caller_ = "mof/tax";
  EXPECT_THAT(tokens_.Redeem(Binding(), token), refused());
  caller_ = "moh/insurance";
  grant_ = "g-2";
  EXPECT_THAT(tokens_.Redeem(Binding(), token), refused());
  grant_ = "g-1";
  filters_.Mutable(0)->set_value("Hue");
  EXPECT_THAT(tokens_.Redeem(Binding(), token), refused());
  filters_.Mutable(0)->set_value("Hanoi");
  filters_.RemoveLast();
  EXPECT_THAT(tokens_.Redeem(Binding(), token), refused());
  *filters_.Add() = MakeFilter("sex", "female");
  fields_.push_back("address");
  EXPECT_THAT(tokens_.Redeem(Binding(), token), refused());
  fields_.pop_back();
  EXPECT_THAT(tokens_.Redeem(Binding(), token), IsOkAndHolds(std::string(kAdapterToken)));
}

TEST_F(PageTokensTest, AlteredOrForgedTokensAreRefused) {
  std::string token = tokens_.Issue(Binding(), kAdapterToken);
  for (size_t i = 0; i < token.size(); ++i) {
    std::string altered = token;
    altered[i] = altered[i] == 'A' ? 'B' : 'A';
    EXPECT_THAT(tokens_.Redeem(Binding(), altered), StatusIs(absl::StatusCode::kInvalidArgument))
        << "character " << i;
  }
  for (const std::string forged : {"t0", "", "AAAA", "not base64!"}) {
    EXPECT_THAT(tokens_.Redeem(Binding(), forged), StatusIs(absl::StatusCode::kInvalidArgument))
        << forged;
  }
  PageTokens other(*crypto::Sealer::Create(std::string(32, 'o'), "page tokens"), &clock_,
                   absl::Hours(1));
  EXPECT_THAT(other.Redeem(Binding(), token), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(PageTokensTest, ExpiresAfterItsLifetime) {
  std::string token = tokens_.Issue(Binding(), kAdapterToken);
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(tokens_.Redeem(Binding(), token), IsOkAndHolds(std::string(kAdapterToken)));
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(tokens_.Redeem(Binding(), token),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expired")));
}

}  // namespace
}  // namespace ndx::gateway
