// SPIFFE ids: every peer's identity is parsed from the one URI SAN of its certificate, before any
// authorization. An accepted id has one spelling (the text it was parsed from), and its parts are
// the ids the registry accepts.

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/ids.h"
#include "crypto/spiffe_id.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ndx::crypto::SpiffeId;
  const absl::string_view uri(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<SpiffeId> id = ndx::crypto::ParseSpiffeId(uri);
  if (!id.ok()) {
    NDX_FUZZ_CHECK(id.status().code() == absl::StatusCode::kInvalidArgument,
                   "a refused id is kInvalidArgument");
    return 0;
  }
  NDX_FUZZ_CHECK(id->ToString() == uri, "an accepted id is in its one canonical spelling");
  NDX_FUZZ_CHECK(ndx::ValidateTrustDomain(id->trust_domain()).ok(),
                 "the trust domain of an accepted id is a valid trust domain");
  if (id->is_node()) {
    NDX_FUZZ_CHECK(ndx::ValidateNodeId(id->name()).ok(), "a node id names a valid node");
    NDX_FUZZ_CHECK(SpiffeId::Node(id->trust_domain(), id->name()) == *id,
                   "a node id is rebuilt from its parts");
  } else {
    NDX_FUZZ_CHECK(ndx::IsValidSegment(id->name()), "a gateway id names a valid gateway");
    NDX_FUZZ_CHECK(SpiffeId::Gateway(id->trust_domain(), id->name()) == *id,
                   "a gateway id is rebuilt from its parts");
  }
  return 0;
}
