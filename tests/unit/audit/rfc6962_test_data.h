#ifndef NDX_TESTS_UNIT_AUDIT_RFC6962_TEST_DATA_H_
#define NDX_TESTS_UNIT_AUDIT_RFC6962_TEST_DATA_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "audit/proof_verifier.h"

namespace ndx::audit {

// Published RFC 6962 test data, as used by Certificate Transparency implementations:
// transparency-dev/merkle, proof/verify_test.go (`leaves`, `roots`). Shared by the tests of the
// Merkle tree and of the standalone verifier so that both check the same published values.
inline const std::vector<std::string> kLeafHex = {"",
                                                  "00",
                                                  "10",
                                                  "2021",
                                                  "3031",
                                                  "40414243",
                                                  "5051525354555657",
                                                  "606162636465666768696a6b6c6d6e6f"};
// kRootHex[n] is the root of the tree of the first n leaves; n = 0 is the empty tree.
inline const std::vector<std::string> kRootHex = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

inline Hash FromHex(absl::string_view hex) {
  const std::string bytes = absl::HexStringToBytes(hex);
  Hash hash{};
  EXPECT_EQ(bytes.size(), hash.size()) << hex;
  std::memcpy(hash.data(), bytes.data(), std::min(bytes.size(), hash.size()));
  return hash;
}

inline std::vector<Hash> FromHex(const std::vector<std::string>& hexes) {
  std::vector<Hash> hashes;
  for (const std::string& hex : hexes) hashes.push_back(FromHex(hex));
  return hashes;
}

}  // namespace ndx::audit

#endif  // NDX_TESTS_UNIT_AUDIT_RFC6962_TEST_DATA_H_
