#include "crypto/hash.h"

#include <gtest/gtest.h>

namespace ndx::crypto {
namespace {

// FIPS 180-2 and RFC 4231 published vectors.
TEST(HashTest, Sha256MatchesPublishedVectors) {
  EXPECT_EQ(ToHex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Parts hash as their concatenation.
  EXPECT_EQ(Sha256({"a", "", "bc"}), Sha256("abc"));
}

TEST(HashTest, HmacSha256MatchesRfc4231) {
  // Test case 2.
  EXPECT_EQ(ToHex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 1: key = 20 bytes of 0x0b.
  EXPECT_EQ(ToHex(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

}  // namespace
}  // namespace ndx::crypto
