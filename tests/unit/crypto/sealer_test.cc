#include "crypto/sealer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "testing/status_matchers.h"

namespace ndx::crypto {
namespace {

using ::ndx::testing::IsOkAndHolds;
using ::ndx::testing::StatusIs;

const std::string kKey(32, 'k');

Sealer Make(const std::string& key = kKey, const std::string& purpose = "tokens") {
  return *Sealer::Create(key, purpose);
}

TEST(SealerTest, OpensWhatItSealedWithTheSameAssociatedData) {
  Sealer sealer = Make();
  std::string sealed = sealer.Seal("001099912345", "moj/births");
  EXPECT_EQ(sealed.size(), 12 + Sealer::kOverheadBytes);
  EXPECT_EQ(sealed.find("001099912345"), std::string::npos);
  EXPECT_THAT(sealer.Open(sealed, "moj/births"), IsOkAndHolds(std::string("001099912345")));
  EXPECT_THAT(sealer.Open(sealer.Seal("", ""), ""), IsOkAndHolds(std::string()));
}

TEST(SealerTest, SameValueSealsDifferentlyEachTime) {
  Sealer sealer = Make();
  EXPECT_NE(sealer.Seal("a", ""), sealer.Seal("a", ""));
}

TEST(SealerTest, RefusesOtherAssociatedDataKeyOrPurpose) {
  std::string sealed = Make().Seal("value", "consumer-a");
  EXPECT_THAT(Make().Open(sealed, "consumer-b"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Make(std::string(32, 'x')).Open(sealed, "consumer-a"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Make(kKey, "events").Open(sealed, "consumer-a"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SealerTest, RefusesEveryAlteredByteAndEveryCut) {
  Sealer sealer = Make();
  std::string sealed = sealer.Seal("position 42", "binding");
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string altered = sealed;
    altered[i] = static_cast<char>(altered[i] ^ 0x01);
    EXPECT_THAT(sealer.Open(altered, "binding"), StatusIs(absl::StatusCode::kInvalidArgument))
        << "byte " << i;
  }
  for (size_t size = 0; size < sealed.size(); ++size) {
    EXPECT_THAT(sealer.Open(sealed.substr(0, size), "binding"),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << "size " << size;
  }
}

TEST(SealerTest, ShortKeyIsRefused) {
  EXPECT_THAT(Sealer::Create(std::string(31, 'k'), "tokens"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace ndx::crypto
