#ifndef NDX_REGISTRY_LIMITS_H_
#define NDX_REGISTRY_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace ndx::registry {

// What one registry input may hold. The registry lives in the gateway's memory and every
// snapshot, listing and grant check walks it, so no input may grow it without bound: each limit
// is checked before any work proportional to the input, and exceeding one is kInvalidArgument
// (kResourceExhausted for the count of pending requests) naming the limit.

// Nodes.
inline constexpr size_t kMaxDisplayNameBytes = 256;
inline constexpr int kMaxRoleEntries = 8;

// Datasets.
inline constexpr size_t kMaxProtoFileNameBytes = 256;
inline constexpr size_t kMaxProtoSourceBytes = 256 * 1024;
inline constexpr size_t kMaxMessageTypeBytes = 256;
inline constexpr size_t kMaxFieldNameBytes = 128;
inline constexpr int kMaxFieldsPerDataset = 256;
inline constexpr size_t kMaxDescriptionBytes = 4096;

// Grants. Field and purpose entries are counted as sent, duplicates included.
inline constexpr int kMaxFieldsPerGrant = kMaxFieldsPerDataset;
inline constexpr int kMaxPurposesPerGrant = 32;
inline constexpr int kMaxOperationEntries = 8;
inline constexpr size_t kMaxJustificationBytes = 4096;
inline constexpr size_t kMaxRevokeReasonBytes = 1024;
// Grant requests of one node awaiting approval, over all datasets: a node cannot fill the
// registry with requests nobody approves.
inline constexpr int kMaxPendingGrantRequestsPerNode = 100;
// A grant's rate limit: beyond these, a limit limits nothing a gateway could serve.
inline constexpr double kMaxGrantRequestsPerSecond = 1e6;
inline constexpr uint32_t kMaxGrantBurst = 1000000;

// Listings (ListNodes, ListDatasets, ListGrants): a page holds at most page_size items (default
// kDefaultListPageSize, at most kMaxListPageSize) and stops early once it holds
// kMaxListPageBytes, so that a page always fits in a message.
inline constexpr int kDefaultListPageSize = 100;
inline constexpr int kMaxListPageSize = 1000;
inline constexpr size_t kMaxListPageBytes = 1024 * 1024;

}  // namespace ndx::registry

#endif  // NDX_REGISTRY_LIMITS_H_
