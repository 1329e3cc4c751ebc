#ifndef NDX_GATEWAY_READ_VALIDATION_H_
#define NDX_GATEWAY_READ_VALIDATION_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "ndx/v1/exchange.pb.h"

namespace ndx::gateway {

// Limits on what a consumer may send, checked before any lookup.
inline constexpr size_t kMaxKeyBytes = 256;
inline constexpr size_t kMaxFilterValueBytes = 1024;
inline constexpr int kMaxFilters = 16;
inline constexpr int kMaxRequestedFields = 256;
inline constexpr size_t kMaxPageTokenBytes = 1024;

// The key of one record (Get, an event): 1 to kMaxKeyBytes bytes without control characters.
absl::Status ValidateRecordKey(absl::string_view key);

// Shape checks of a Get or Query (key, filters, paging, field-name list); what depends on the
// registry (dataset, purpose, grant, schema fields) is the authorizer's. kInvalidArgument whose
// message names the offending part.
absl::Status ValidateGetRequest(const v1::GetRequest& request);
absl::Status ValidateQueryRequest(const v1::QueryRequest& request);

// Whether `text`, the value of a key or filter (`what`: "key", "filter"), converts to the type of
// `field` of `message` (common/field_text). The gateway checks before it forwards, so that the
// consumer hears what to fix: an adapter's own refusal reaches it only as a fixed text.
// kInvalidArgument naming the field and its type, never the value, or naming a repeated field,
// which a filter cannot compare with one value (CheckFilterField). OK for a field this check does
// not know (unknown, or a type no adapter maps), which the authorizer or the adapter refuses.
absl::Status ValidateFieldValue(const google::protobuf::Descriptor& message,
                                absl::string_view field, absl::string_view text,
                                absl::string_view what);

}  // namespace ndx::gateway

#endif  // NDX_GATEWAY_READ_VALIDATION_H_
