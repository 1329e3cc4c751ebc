#ifndef NDX_CRYPTO_SPIFFE_ID_H_
#define NDX_CRYPTO_SPIFFE_ID_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ndx::crypto {

// The identity a certificate carries in its one URI SAN:
//   spiffe://<trust-domain>/node/<agency>/<system>   a node (an agency's system)
//   spiffe://<trust-domain>/gateway/<name>           a gateway
// A value type; thread-compatible.
class SpiffeId {
 public:
  enum class Kind { kNode, kGateway };

  static SpiffeId Node(std::string trust_domain, std::string node_id);
  static SpiffeId Gateway(std::string trust_domain, std::string name);

  const std::string& trust_domain() const { return trust_domain_; }
  Kind kind() const { return kind_; }
  bool is_node() const { return kind_ == Kind::kNode; }
  bool is_gateway() const { return kind_ == Kind::kGateway; }
  // "agency/system" for a node, the gateway's name for a gateway.
  const std::string& name() const { return name_; }

  std::string ToString() const;

  friend bool operator==(const SpiffeId&, const SpiffeId&) = default;

 private:
  SpiffeId(std::string trust_domain, Kind kind, std::string name)
      : trust_domain_(std::move(trust_domain)), kind_(kind), name_(std::move(name)) {}

  std::string trust_domain_;
  Kind kind_;
  std::string name_;
};

// Parses one of the two shapes above; anything else (other schemes, query, fragment, port,
// userinfo, percent-encoding, empty or extra segments, upper case) is kInvalidArgument.
absl::StatusOr<SpiffeId> ParseSpiffeId(absl::string_view uri);

}  // namespace ndx::crypto

#endif  // NDX_CRYPTO_SPIFFE_ID_H_
