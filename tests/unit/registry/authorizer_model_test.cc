// A reference model of the read authorizer, written from docs/api.md ("How a read is decided")
// alone, checked against Authorize and FindCoveringGrant on many small random registries.
//
// Each world (nodes, datasets, grants) is made from a PRNG seeded with (seed, world index), then
// several requests are asked of it. The model predicts the status code and, for an allowed read,
// the grant used and the fields returned; the real authorizer must agree on every case. Small
// universes (three nodes, three dataset ids, six field names, three purposes, six grant ids) make
// the interesting collisions frequent: several grants of one consumer on one dataset, ties on
// requested_at, times on either side of an expiry.
//
// NDX_MODEL_CASES (default 100000) and NDX_MODEL_SEED override the case count and the seed;
// NDX_MODEL_WORLD=N runs world N alone and prints every case of it. See
// docs/authorization-model.md.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/schema.h"
#include "ndx/v1/registry.pb.h"
#include "registry/authorizer.h"
#include "registry/grant_set.h"
#include "registry/snapshot_impl.h"

namespace ndx::registry {
namespace {

// ---------------------------------------------------------------------------------------------
// The universe the worlds are drawn from.

// The fields a dataset's schema may have, declared out of number order so that an answer in
// declaration order would be caught.
struct PoolField {
  const char* name;
  int number;
  const char* declaration;
};
constexpr PoolField kFieldPool[] = {
    {"region", 6, "string region = 6;"},       {"person_id", 1, "string person_id = 1;"},
    {"name", 2, "string name = 2;"},           {"born_at", 4, "int64 born_at = 4;"},
    {"parent_id", 3, "string parent_id = 3;"}, {"notes", 5, "repeated string notes = 5;"},
};
constexpr int kPoolSize = sizeof(kFieldPool) / sizeof(kFieldPool[0]);
// Names no schema has (one differs from a real one only by case).
const std::vector<std::string> kOtherFieldNames = {"bogus", "Region", ""};

const std::vector<std::string> kNodeIds = {"civil/registry", "moh/insurance", "tax/core"};
constexpr char kUnregisteredNode[] = "nobody/x";
constexpr char kGoneOwner[] = "civil/gone";

const std::vector<std::string> kDatasetIds = {"civil/births", "tax/returns", "moh/visits"};
// Well formed but never registered.
const std::vector<std::string> kUnregisteredDatasets = {
    "civil/deaths", std::string(63, 'a') + "/" + std::string(63, 'b'), "0/x", "c-/b-", "a/9-"};
const std::vector<std::string> kMalformedDatasets = {
    "",
    "civil",
    "civil/",
    "/births",
    "Civil/births",
    "civil/Births",
    "civil/births/x",
    "civil//births",
    "civil/-births",
    "-civil/births",
    "civil/b_irths",
    "civil/b.irths",
    "civ il/births",
    "civil/births\n",
    "civil/birth\xc3\xa9",
    std::string(64, 'a') + "/x",
    "x/" + std::string(64, 'b'),
};

const std::vector<std::string> kPurposes = {"health-insurance", "statistics", "tax.audit_2"};
// Well formed, in no grant.
const std::vector<std::string> kOtherPurposes = {"research", std::string(128, 'p'), "0", "x-",
                                                 "a._-"};
const std::vector<std::string> kMalformedPurposes = {"",
                                                     "Health",
                                                     "health insurance",
                                                     "-x",
                                                     ".x",
                                                     "_x",
                                                     std::string(129, 'p'),
                                                     "x/y",
                                                     "caf\xc3\xa9",
                                                     "x\n"};

const std::vector<std::string> kGrantIds = {"g-9", "g-10", "g-a", "g-B", "g-0001", "g-1"};

constexpr v1::Operation kOperations[] = {v1::OPERATION_READ, v1::OPERATION_QUERY,
                                         v1::OPERATION_EXPORT, v1::OPERATION_SUBSCRIBE};

constexpr int64_t kNanosPerSecond = 1000 * 1000 * 1000;
constexpr int64_t kHour = int64_t{3600} * kNanosPerSecond;
constexpr int64_t kT0 = int64_t{1767225600} * kNanosPerSecond;  // 2026-01-01T00:00:00Z

constexpr int kRequestsPerWorld = 8;

// ---------------------------------------------------------------------------------------------
// A world and a request, as plain values: what the model reads and the real snapshot is built
// from. Times are nanoseconds since the Unix epoch; 0 is an unset Timestamp.

struct ModelNode {
  std::string id;
  v1::NodeState state = v1::NODE_STATE_UNSPECIFIED;
  std::string endpoint;
};

struct ModelDataset {
  std::string id;
  int field_mask = 0;  // bit i: kFieldPool[i] is in the schema
  std::string owner;
  std::string key_field;
};

struct ModelGrant {
  std::string id;
  std::string consumer;
  std::string dataset;
  v1::GrantState state = v1::GRANT_STATE_UNSPECIFIED;
  int64_t expires_at = 0;
  int64_t requested_at = 0;
  std::vector<std::string> purposes;
  // Empty: the grant is given FillDefaultOperations() before it enters the snapshot, as
  // RocksDbRegistry does on store and load.
  std::vector<v1::Operation> operations;
  std::vector<std::string> fields;
};

struct World {
  std::vector<ModelNode> nodes;
  std::vector<ModelDataset> datasets;
  std::vector<ModelGrant> grants;
  // The consumer and dataset most grants and requests are about.
  std::string focus_consumer;
  std::string focus_dataset;
};

struct Request {
  bool covering = false;  // FindCoveringGrant (no owner checks) rather than Authorize
  std::string caller;
  std::string dataset;
  v1::Operation operation = v1::OPERATION_UNSPECIFIED;
  std::vector<std::string> fields;
  std::vector<std::string> filter_fields;
  std::string purpose;
  int64_t now = 0;
};

// ---------------------------------------------------------------------------------------------
// The model: docs/api.md, "How a read is decided", rule by rule.

// The outcome classes, in rule order. From kNoGrant to kFieldsNotCovered the order is also the
// one in which the doc lists the reasons of rule 5, read as farthest to closest.
enum Outcome {
  kAllowed,
  kMalformedDataset,     // rule 1
  kMalformedPurpose,     // rule 1
  kCallerNotRegistered,  // rule 2
  kCallerNotActive,      // rule 2
  kDatasetNotFound,      // rule 3
  kUnknownField,         // rule 4
  kNoGrant,              // rule 5 ...
  kRevoked,
  kExpired,
  kAwaitingApproval,
  kPurposeNotCovered,
  kOperationNotAllowed,
  kFieldsNotCovered,  // ... rule 5
  kOwnerUnavailable,  // rule 6
  kOutcomeCount,
};

const char* OutcomeName(int outcome) {
  static constexpr const char* kNames[] = {
      "allowed",           "malformed dataset id",
      "malformed purpose", "caller not registered",
      "caller not active", "dataset not found",
      "unknown field",     "no grant",
      "revoked",           "expired",
      "awaiting approval", "purpose",
      "operation",         "fields",
      "owner unavailable",
  };
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == kOutcomeCount);
  return outcome >= 0 && outcome < kOutcomeCount ? kNames[outcome] : "?";
}

absl::StatusCode OutcomeCode(Outcome outcome) {
  switch (outcome) {
    case kAllowed:
      return absl::StatusCode::kOk;
    case kMalformedDataset:
    case kMalformedPurpose:
    case kUnknownField:
      return absl::StatusCode::kInvalidArgument;
    case kDatasetNotFound:
      return absl::StatusCode::kNotFound;
    case kOwnerUnavailable:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kPermissionDenied;
  }
}

struct Prediction {
  Outcome outcome = kAllowed;
  std::string grant_id;
  std::vector<std::string> fields;
  std::vector<int> field_numbers;
  // Not predictions, but what the case exercised: how many grants were in force, whether the
  // oldest shared its requested_at with another, whether a grant of the caller on the dataset
  // has no state (which the doc does not place among the reasons of rule 5).
  int in_force = 0;
  bool requested_at_tie = false;
  bool state_unset = false;
  // Whether the time is within a nanosecond of the expiry of a grant of the caller on the dataset.
  bool at_expiry = false;
};

bool LowerOrDigit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// "each part 1-63 characters of a-z, 0-9 and -, starting with a letter or digit"
bool WellFormedIdPart(std::string_view part) {
  if (part.empty() || part.size() > 63 || !LowerOrDigit(part[0])) return false;
  return std::all_of(part.begin(), part.end(), [](char c) { return LowerOrDigit(c) || c == '-'; });
}

bool WellFormedDatasetId(std::string_view id) {
  size_t slash = id.find('/');
  if (slash == std::string_view::npos) return false;
  return WellFormedIdPart(id.substr(0, slash)) && WellFormedIdPart(id.substr(slash + 1));
}

// "1-128 characters of a-z, 0-9, ., _ and -, starting with a letter or digit"
bool WellFormedPurpose(std::string_view purpose) {
  if (purpose.empty() || purpose.size() > 128 || !LowerOrDigit(purpose[0])) return false;
  return std::all_of(purpose.begin(), purpose.end(),
                     [](char c) { return LowerOrDigit(c) || c == '.' || c == '_' || c == '-'; });
}

template <typename T>
bool Contains(const std::vector<T>& values, const T& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// The schema's fields as (number, name).
std::vector<std::pair<int, std::string>> SchemaFields(int mask) {
  std::vector<std::pair<int, std::string>> fields;
  for (int i = 0; i < kPoolSize; ++i) {
    if (mask & (1 << i)) fields.emplace_back(kFieldPool[i].number, kFieldPool[i].name);
  }
  return fields;
}

// The number of `name` in the schema, or nullopt.
std::optional<int> SchemaNumber(int mask, const std::string& name) {
  for (const auto& [number, field] : SchemaFields(mask)) {
    if (field == name) return number;
  }
  return std::nullopt;
}

// What the proto says of a grant that names no operation: READ, QUERY and SUBSCRIBE.
std::vector<v1::Operation> EffectiveOperations(const ModelGrant& grant) {
  if (!grant.operations.empty()) return grant.operations;
  return {v1::OPERATION_READ, v1::OPERATION_QUERY, v1::OPERATION_SUBSCRIBE};
}

// kAllowed when `grant` is in force for the request; otherwise its first failing condition of
// rule 5, in the doc's order.
Outcome GrantVerdict(const ModelGrant& grant, const Request& request, int schema_mask) {
  if (grant.state == v1::GRANT_STATE_REVOKED) return kRevoked;
  if (!(request.now < grant.expires_at)) return kExpired;
  if (grant.state != v1::GRANT_STATE_APPROVED) return kAwaitingApproval;
  if (!Contains(grant.purposes, request.purpose)) return kPurposeNotCovered;
  if (!Contains(EffectiveOperations(grant), request.operation)) return kOperationNotAllowed;
  for (const std::vector<std::string>* names : {&request.fields, &request.filter_fields}) {
    for (const std::string& name : *names) {
      if (!Contains(grant.fields, name)) return kFieldsNotCovered;
    }
  }
  if (request.fields.empty()) {
    bool any_in_schema = std::any_of(grant.fields.begin(), grant.fields.end(), [&](auto& name) {
      return SchemaNumber(schema_mask, name).has_value();
    });
    if (!any_in_schema) return kFieldsNotCovered;
  }
  return kAllowed;
}

const ModelNode* FindNode(const World& world, const std::string& id) {
  for (const ModelNode& node : world.nodes) {
    if (node.id == id) return &node;
  }
  return nullptr;
}

const ModelDataset* FindDataset(const World& world, const std::string& id) {
  for (const ModelDataset& dataset : world.datasets) {
    if (dataset.id == id) return &dataset;
  }
  return nullptr;
}

Prediction Deny(Outcome outcome) {
  Prediction prediction;
  prediction.outcome = outcome;
  return prediction;
}

Prediction Predict(const World& world, const Request& request) {
  // 1. Well-formed dataset id, then purpose.
  if (!WellFormedDatasetId(request.dataset)) return Deny(kMalformedDataset);
  if (!WellFormedPurpose(request.purpose)) return Deny(kMalformedPurpose);
  // 2. A registered, active caller.
  const ModelNode* caller = FindNode(world, request.caller);
  if (caller == nullptr) return Deny(kCallerNotRegistered);
  if (caller->state != v1::NODE_STATE_ACTIVE) return Deny(kCallerNotActive);
  // 3. A registered dataset.
  const ModelDataset* dataset = FindDataset(world, request.dataset);
  if (dataset == nullptr) return Deny(kDatasetNotFound);
  // 4. Every requested and filtered field in the current schema.
  for (const std::vector<std::string>* names : {&request.fields, &request.filter_fields}) {
    for (const std::string& name : *names) {
      if (!SchemaNumber(dataset->field_mask, name)) return Deny(kUnknownField);
    }
  }
  // 5. A grant in force; the oldest (requested_at, then id) of several; else the reason of the
  // one that came closest.
  std::vector<const ModelGrant*> in_force;
  Outcome closest = kNoGrant;
  bool state_unset = false;
  bool at_expiry = false;
  for (const ModelGrant& grant : world.grants) {
    if (grant.consumer != request.caller || grant.dataset != request.dataset) continue;
    state_unset |= grant.state == v1::GRANT_STATE_UNSPECIFIED;
    at_expiry |= request.now >= grant.expires_at - 1 && request.now <= grant.expires_at + 1;
    Outcome verdict = GrantVerdict(grant, request, dataset->field_mask);
    if (verdict == kAllowed) {
      in_force.push_back(&grant);
    } else {
      closest = std::max(closest, verdict);
    }
  }
  if (in_force.empty()) {
    Prediction refusal = Deny(closest);
    refusal.state_unset = state_unset;
    refusal.at_expiry = at_expiry;
    return refusal;
  }
  auto older = [](const ModelGrant* a, const ModelGrant* b) {
    return std::tie(a->requested_at, a->id) < std::tie(b->requested_at, b->id);
  };
  const ModelGrant* chosen = *std::min_element(in_force.begin(), in_force.end(), older);
  // 6. An owner that is registered, active and has an adapter endpoint (Authorize only).
  if (!request.covering) {
    const ModelNode* owner = FindNode(world, dataset->owner);
    if (owner == nullptr || owner->state != v1::NODE_STATE_ACTIVE || owner->endpoint.empty()) {
      return Deny(kOwnerUnavailable);
    }
  }
  // The requested fields or, when none is, the grant's fields in the schema; by number, once.
  Prediction prediction;
  prediction.grant_id = chosen->id;
  prediction.in_force = static_cast<int>(in_force.size());
  prediction.at_expiry = at_expiry;
  prediction.requested_at_tie = std::count_if(in_force.begin(), in_force.end(), [&](auto* grant) {
                                  return grant->requested_at == chosen->requested_at;
                                }) > 1;
  std::map<int, std::string> returned;
  for (const std::string& name : request.fields.empty() ? chosen->fields : request.fields) {
    if (std::optional<int> number = SchemaNumber(dataset->field_mask, name)) {
      returned[*number] = name;
    }
  }
  for (const auto& [number, name] : returned) {
    prediction.field_numbers.push_back(number);
    prediction.fields.push_back(name);
  }
  return prediction;
}

// ---------------------------------------------------------------------------------------------
// Random worlds and requests.

class Random {
 public:
  explicit Random(std::mt19937_64* rng) : rng_(rng) {}
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(*rng_) < p; }
  // Uniform in [0, n).
  int Below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(*rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& values) {
    return values[Below(static_cast<int>(values.size()))];
  }
  template <typename T>
  void Shuffle(std::vector<T>* values) {
    std::shuffle(values->begin(), values->end(), *rng_);
  }

 private:
  std::mt19937_64* rng_;
};

int PopCount(int mask) {
  int count = 0;
  for (; mask != 0; mask &= mask - 1) ++count;
  return count;
}

World MakeWorld(Random& random) {
  World world;
  for (const std::string& id : kNodeIds) {
    if (random.Chance(0.04)) continue;  // not registered
    ModelNode node;
    node.id = id;
    int state = random.Below(100);
    node.state = state < 88   ? v1::NODE_STATE_ACTIVE
                 : state < 95 ? v1::NODE_STATE_SUSPENDED
                              : v1::NODE_STATE_UNSPECIFIED;
    if (random.Chance(0.85)) node.endpoint = "127.0.0.1:7443";
    world.nodes.push_back(std::move(node));
  }

  std::vector<std::string> dataset_ids = kDatasetIds;
  random.Shuffle(&dataset_ids);
  dataset_ids.resize(2 + random.Below(2));
  for (const std::string& id : dataset_ids) {
    ModelDataset dataset;
    dataset.id = id;
    do {
      dataset.field_mask = random.Below(1 << kPoolSize);
    } while (PopCount(dataset.field_mask) < 3 || PopCount(dataset.field_mask) > 5);
    dataset.owner = random.Chance(0.92) ? random.Pick(kNodeIds) : kGoneOwner;
    std::vector<std::pair<int, std::string>> fields = SchemaFields(dataset.field_mask);
    dataset.key_field = fields[random.Below(static_cast<int>(fields.size()))].second;
    world.datasets.push_back(std::move(dataset));
  }
  world.focus_consumer = random.Pick(kNodeIds);
  world.focus_dataset = random.Pick(dataset_ids);

  std::vector<std::string> grant_ids = kGrantIds;
  random.Shuffle(&grant_ids);
  // 0 to 4 grants, more often many than few. (Draws are in separate statements or symmetric, so
  // that a seed makes the same world whatever order a compiler evaluates operands in.)
  grant_ids.resize(random.Chance(0.1) ? 0 : 1 + std::max(random.Below(4), random.Below(4)));
  for (const std::string& id : grant_ids) {
    ModelGrant grant;
    grant.id = id;
    grant.consumer = random.Chance(0.85) ? world.focus_consumer : random.Pick(kNodeIds);
    grant.dataset = random.Chance(0.85) ? world.focus_dataset : random.Pick(kDatasetIds);
    int state = random.Below(100);
    grant.state = state < 66   ? v1::GRANT_STATE_APPROVED
                  : state < 80 ? v1::GRANT_STATE_REQUESTED
                  : state < 95 ? v1::GRANT_STATE_REVOKED
                               : v1::GRANT_STATE_UNSPECIFIED;
    if (!random.Chance(0.03)) {
      static const std::vector<int64_t> kExpiries = {-kHour, kHour, kHour, 2 * kHour};
      grant.expires_at = kT0 + random.Pick(kExpiries);
      if (random.Chance(0.2)) grant.expires_at += random.Below(3);
    }
    if (!random.Chance(0.05)) {
      grant.requested_at = kT0 - random.Below(2) * kHour;
      if (random.Chance(0.2)) grant.requested_at -= 1;
    }
    for (const std::string& purpose : kPurposes) {
      if (random.Chance(0.6)) grant.purposes.push_back(purpose);
    }
    if (grant.purposes.empty() && random.Chance(0.7))
      grant.purposes.push_back(random.Pick(kPurposes));
    for (v1::Operation operation : kOperations) {
      if (random.Chance(0.6)) grant.operations.push_back(operation);
    }
    if (!grant.operations.empty() && random.Chance(0.05)) {
      grant.operations.push_back(grant.operations.front());
    }
    for (const PoolField& field : kFieldPool) {
      if (random.Chance(0.65)) grant.fields.push_back(field.name);
    }
    for (const std::string& name : kOtherFieldNames) {
      if (random.Chance(0.04)) grant.fields.push_back(name);
    }
    if (!grant.fields.empty() && random.Chance(0.1)) grant.fields.push_back(grant.fields.front());
    random.Shuffle(&grant.fields);
    world.grants.push_back(std::move(grant));
  }
  return world;
}

// A field name for a request on `dataset`: mostly one of its schema's fields.
std::string PickField(Random& random, const ModelDataset* dataset) {
  int draw = random.Below(100);
  if (dataset != nullptr && draw < 90) {
    std::vector<std::pair<int, std::string>> fields = SchemaFields(dataset->field_mask);
    return fields[random.Below(static_cast<int>(fields.size()))].second;
  }
  if (draw < 96) return kFieldPool[random.Below(kPoolSize)].name;
  return random.Pick(kOtherFieldNames);
}

Request MakeRequest(Random& random, const World& world) {
  Request request;
  request.covering = random.Chance(0.25);
  int caller = random.Below(100);
  request.caller = caller < 82   ? world.focus_consumer
                   : caller < 95 ? random.Pick(kNodeIds)
                                 : kUnregisteredNode;
  int dataset = random.Below(100);
  if (dataset < 72) {
    request.dataset = world.focus_dataset;
  } else if (dataset < 84) {
    request.dataset = world.datasets[random.Below(static_cast<int>(world.datasets.size()))].id;
  } else if (dataset < 94) {
    request.dataset = random.Chance(0.5) ? random.Pick(kDatasetIds)  // maybe not registered
                                         : random.Pick(kUnregisteredDatasets);
  } else {
    request.dataset = random.Pick(kMalformedDatasets);
  }
  int purpose = random.Below(100);
  request.purpose = purpose < 88   ? random.Pick(kPurposes)
                    : purpose < 94 ? random.Pick(kOtherPurposes)
                                   : random.Pick(kMalformedPurposes);
  int operation = random.Below(100);
  // Now and then no operation at all, which is none of a grant's: the doc names only four.
  request.operation = operation < 35   ? v1::OPERATION_READ
                      : operation < 64 ? v1::OPERATION_QUERY
                      : operation < 79 ? v1::OPERATION_EXPORT
                      : operation < 99 ? v1::OPERATION_SUBSCRIBE
                                       : v1::OPERATION_UNSPECIFIED;
  // As the services ask: Get and Query name fields or none, a Query has filters and an export
  // none, a subscription names neither. Now and then the operation and the fields disagree,
  // which the rules do not care about.
  const ModelDataset* target = FindDataset(world, request.dataset);
  bool any_shape = random.Chance(0.08);
  if (request.operation != v1::OPERATION_SUBSCRIBE || any_shape) {
    if (random.Chance(0.65)) {
      for (int n = 1 + random.Below(3); n > 0; --n) {
        request.fields.push_back(PickField(random, target));
      }
    }
  }
  if (request.operation == v1::OPERATION_QUERY || any_shape) {
    for (int n = 1 + random.Below(2); n > 0; --n) {
      request.filter_fields.push_back(PickField(random, target));
    }
  }
  if (!world.grants.empty() && random.Chance(0.35)) {
    static const std::vector<int64_t> kAroundExpiry = {-kNanosPerSecond, -1, 0, 1, kNanosPerSecond};
    request.now = random.Pick(world.grants).expires_at;
    request.now += random.Pick(kAroundExpiry);
  } else {
    request.now = kT0 + random.Below(600) * kNanosPerSecond;
    request.now += random.Below(2);
  }
  return request;
}

// ---------------------------------------------------------------------------------------------
// The real registry of a world.

google::protobuf::Timestamp Timestamp(int64_t nanos) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(nanos / kNanosPerSecond);
  timestamp.set_nanos(static_cast<int32_t>(nanos % kNanosPerSecond));
  return timestamp;
}

// Dataset entries compiled once per (id, schema, owner, key field): compiling a schema costs
// far more than a case.
class DatasetEntries {
 public:
  std::shared_ptr<const DatasetEntry> Get(const ModelDataset& model) {
    auto key = std::make_tuple(model.id, model.field_mask, model.owner, model.key_field);
    auto it = entries_.find(key);
    if (it != entries_.end()) return it->second;
    v1::Dataset dataset;
    dataset.set_id(model.id);
    dataset.set_owner(model.owner);
    dataset.set_message_type("model.v1.Record");
    dataset.set_key_field(model.key_field);
    dataset.set_schema_version(1);
    for (const auto& [number, name] : SchemaFields(model.field_mask)) {
      v1::FieldInfo* info = dataset.add_fields();
      info->set_name(name);
      info->set_number(number);
    }
    *dataset.mutable_schema() = Schema(model.field_mask);
    absl::StatusOr<std::shared_ptr<const DatasetEntry>> entry = internal::MakeDatasetEntry(dataset);
    EXPECT_TRUE(entry.ok()) << entry.status();
    if (!entry.ok()) return nullptr;
    return entries_[key] = *entry;
  }

 private:
  const google::protobuf::FileDescriptorSet& Schema(int mask) {
    auto it = schemas_.find(mask);
    if (it != schemas_.end()) return it->second;
    std::string source = "syntax = \"proto3\";\npackage model.v1;\nmessage Record {\n";
    for (int i = 0; i < kPoolSize; ++i) {
      if (mask & (1 << i)) absl::StrAppend(&source, "  ", kFieldPool[i].declaration, "\n");
    }
    source += "}\n";
    absl::StatusOr<google::protobuf::FileDescriptorSet> compiled =
        CompileProtoFile("record.proto", source);
    EXPECT_TRUE(compiled.ok()) << compiled.status();
    return schemas_[mask] = compiled.ok() ? *compiled : google::protobuf::FileDescriptorSet();
  }

  std::map<int, google::protobuf::FileDescriptorSet> schemas_;
  std::map<std::tuple<std::string, int, std::string, std::string>,
           std::shared_ptr<const DatasetEntry>>
      entries_;
};

std::shared_ptr<const internal::SnapshotImpl> BuildSnapshot(const World& world,
                                                            DatasetEntries& entries) {
  std::vector<std::shared_ptr<const v1::Node>> nodes;
  for (const ModelNode& model : world.nodes) {
    auto node = std::make_shared<v1::Node>();
    node->set_id(model.id);
    node->set_display_name(model.id);
    node->set_kind(v1::NODE_KIND_MINISTRY);
    node->set_adapter_endpoint(model.endpoint);
    node->set_state(model.state);
    nodes.push_back(std::move(node));
  }
  std::vector<std::shared_ptr<const DatasetEntry>> datasets;
  for (const ModelDataset& model : world.datasets) datasets.push_back(entries.Get(model));
  std::vector<std::shared_ptr<const v1::Grant>> grants;
  for (const ModelGrant& model : world.grants) {
    auto grant = std::make_shared<v1::Grant>();
    grant->set_id(model.id);
    grant->set_consumer(model.consumer);
    grant->set_dataset(model.dataset);
    grant->set_state(model.state);
    if (model.expires_at != 0) *grant->mutable_expires_at() = Timestamp(model.expires_at);
    if (model.requested_at != 0) *grant->mutable_requested_at() = Timestamp(model.requested_at);
    for (const std::string& purpose : model.purposes) grant->add_purposes(purpose);
    for (v1::Operation operation : model.operations) grant->add_operations(operation);
    FillDefaultOperations(grant.get());
    for (const std::string& field : model.fields) grant->add_fields(field);
    grant->set_justification("model");
    grants.push_back(std::move(grant));
  }
  return internal::SnapshotImpl::Build(1, std::move(nodes), std::move(datasets), std::move(grants));
}

// What the real authorizer said.
struct Answer {
  absl::Status status;
  std::string grant_id;
  std::string dataset_id;
  std::string owner_id;
  std::vector<std::string> fields;
  std::vector<int> field_numbers;
};

Answer Ask(const Snapshot& snapshot, const Request& request) {
  ReadRequest read;
  read.dataset = request.dataset;
  read.operation = request.operation;
  read.fields = request.fields;
  read.purpose = request.purpose;
  read.filter_fields = request.filter_fields;
  absl::Time now = absl::FromUnixNanos(request.now);
  Answer answer;
  if (request.covering) {
    absl::StatusOr<GrantMatch> match = FindCoveringGrant(snapshot, request.caller, read, now);
    answer.status = match.status();
    if (!match.ok()) return answer;
    if (match->grant != nullptr) answer.grant_id = match->grant->id();
    if (match->dataset != nullptr) answer.dataset_id = match->dataset->dataset.id();
    return answer;
  }
  absl::StatusOr<Decision> decision = Authorize(snapshot, request.caller, read, now);
  answer.status = decision.status();
  if (!decision.ok()) return answer;
  if (decision->grant != nullptr) answer.grant_id = decision->grant->id();
  if (decision->dataset != nullptr) answer.dataset_id = decision->dataset->dataset.id();
  if (decision->owner != nullptr) answer.owner_id = decision->owner->id();
  answer.fields = decision->fields;
  answer.field_numbers = decision->field_numbers;
  return answer;
}

// The reason a refusal gives, from its message, for the outcomes whose reason the doc names;
// kAllowed when the message is not recognised. Used only to report, not to fail: messages are not
// part of what the model checks.
Outcome ReasonOf(const absl::Status& status) {
  absl::string_view message = status.message();
  if (absl::StrContains(message, "is not registered")) return kCallerNotRegistered;
  if (absl::StrContains(message, "is suspended") || absl::StrContains(message, "is not active")) {
    return kCallerNotActive;
  }
  if (absl::StrContains(message, "has no grant")) return kNoGrant;
  if (absl::StrContains(message, "was revoked")) return kRevoked;
  if (absl::StrContains(message, "expired")) return kExpired;
  if (absl::StrContains(message, "awaiting approval")) return kAwaitingApproval;
  if (absl::StartsWith(message, "purpose ")) return kPurposeNotCovered;
  if (absl::StartsWith(message, "operation ")) return kOperationNotAllowed;
  if (absl::StrContains(message, "not covered") ||
      absl::StrContains(message, "none of the fields")) {
    return kFieldsNotCovered;
  }
  return kAllowed;
}

// ---------------------------------------------------------------------------------------------
// Printing a case so that it can be read and reproduced.

std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", absl::CHexEscape(text), "\"");
}

std::string Names(const std::vector<std::string>& names) {
  std::vector<std::string> quoted;
  for (const std::string& name : names) quoted.push_back(Quoted(name));
  return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
}

std::string TimeText(int64_t nanos) {
  if (nanos == 0) return "unset";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", absl::FromUnixNanos(nanos), absl::UTCTimeZone());
}

std::string OperationsText(const std::vector<v1::Operation>& operations) {
  if (operations.empty()) return "none given (defaults: read, query, subscribe)";
  std::vector<std::string> names;
  for (v1::Operation operation : operations) names.push_back(OperationName(operation));
  return absl::StrJoin(names, ", ");
}

std::string WorldText(const World& world) {
  std::string text = "world:\n";
  for (const std::string& id : kNodeIds) {
    const ModelNode* node = FindNode(world, id);
    if (node == nullptr) {
      absl::StrAppend(&text, "  node ", id, ": not registered\n");
    } else {
      absl::StrAppend(&text, "  node ", id, ": ", v1::NodeState_Name(node->state),
                      ", adapter endpoint ", Quoted(node->endpoint), "\n");
    }
  }
  for (const ModelDataset& dataset : world.datasets) {
    std::vector<std::string> fields;
    for (const auto& [number, name] : SchemaFields(dataset.field_mask)) {
      fields.push_back(absl::StrCat(name, "=", number));
    }
    absl::StrAppend(&text, "  dataset ", dataset.id, ": owner ", dataset.owner, ", key ",
                    dataset.key_field, ", fields {", absl::StrJoin(fields, ", "), "}\n");
  }
  for (const ModelGrant& grant : world.grants) {
    absl::StrAppend(&text, "  grant ", grant.id, ": ", grant.consumer, " on ", grant.dataset, ", ",
                    v1::GrantState_Name(grant.state), ", requested_at ",
                    TimeText(grant.requested_at), ", expires_at ", TimeText(grant.expires_at),
                    "\n    purposes ", Names(grant.purposes), ", operations ",
                    OperationsText(grant.operations), ", fields ", Names(grant.fields), "\n");
  }
  return text;
}

std::string RequestText(const Request& request) {
  return absl::StrCat(request.covering ? "FindCoveringGrant" : "Authorize", "(caller ",
                      request.caller, ", dataset ", Quoted(request.dataset), ", operation ",
                      OperationName(request.operation), ", fields ", Names(request.fields),
                      ", filter fields ", Names(request.filter_fields), ", purpose ",
                      Quoted(request.purpose), ", now ", TimeText(request.now), ")");
}

std::string PredictionText(const Prediction& prediction) {
  if (prediction.outcome != kAllowed) {
    return absl::StrCat(absl::StatusCodeToString(OutcomeCode(prediction.outcome)), " (",
                        OutcomeName(prediction.outcome), ")");
  }
  return absl::StrCat("OK, grant ", prediction.grant_id, ", fields ", Names(prediction.fields),
                      " numbers [", absl::StrJoin(prediction.field_numbers, ", "), "]");
}

std::string AnswerText(const Answer& answer) {
  if (!answer.status.ok()) return answer.status.ToString();
  return absl::StrCat("OK, grant ", answer.grant_id, ", dataset ", answer.dataset_id, ", owner ",
                      answer.owner_id, ", fields ", Names(answer.fields), " numbers [",
                      absl::StrJoin(answer.field_numbers, ", "), "]");
}

// Empty when the real answer agrees with the model; otherwise what differs.
std::string Disagreement(const World& world, const Request& request, const Prediction& expected,
                         const Answer& actual) {
  absl::StatusCode code = OutcomeCode(expected.outcome);
  if (actual.status.code() != code) {
    return absl::StrCat("status code ", absl::StatusCodeToString(actual.status.code()),
                        ", model says ", absl::StatusCodeToString(code));
  }
  if (code != absl::StatusCode::kOk) return "";
  if (actual.grant_id != expected.grant_id) return "grant differs";
  if (actual.dataset_id != request.dataset) return "dataset differs";
  if (request.covering) return "";
  if (actual.owner_id != FindDataset(world, request.dataset)->owner) return "owner differs";
  if (actual.fields != expected.fields) return "fields differ";
  if (actual.field_numbers != expected.field_numbers) return "field numbers differ";
  return "";
}

// ---------------------------------------------------------------------------------------------

std::optional<uint64_t> EnvNumber(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    ADD_FAILURE() << name << "=" << text << " is not a number";
    return std::nullopt;
  }
  return value;
}

// What a run must exercise besides every outcome class.
const std::vector<std::string> kSituations = {
    "allowed by FindCoveringGrant",
    "allowed read",
    "allowed query",
    "allowed export",
    "allowed subscribe",
    "allowed with no field requested",
    "allowed with several grants in force",
    "allowed, oldest grant by id (requested_at tie)",
    "allowed within 1ns of a grant's expiry",
    "refused within 1ns of a grant's expiry",
};

std::vector<std::string> Situations(const Request& request, const Prediction& prediction) {
  std::vector<std::string> situations;
  if (prediction.outcome == kAllowed) {
    if (request.covering) situations.push_back("allowed by FindCoveringGrant");
    situations.push_back(absl::StrCat("allowed ", OperationName(request.operation)));
    if (request.fields.empty()) situations.push_back("allowed with no field requested");
    if (prediction.in_force > 1) situations.push_back("allowed with several grants in force");
    if (prediction.requested_at_tie) {
      situations.push_back("allowed, oldest grant by id (requested_at tie)");
    }
    if (prediction.at_expiry) situations.push_back("allowed within 1ns of a grant's expiry");
  } else if (prediction.at_expiry) {
    situations.push_back("refused within 1ns of a grant's expiry");
  }
  return situations;
}

constexpr uint64_t kDefaultSeed = 20260101;
constexpr uint64_t kDefaultCases = 100000;
// Every outcome class, and an allowed FindCoveringGrant, must occur this often per 100,000
// cases, or the generator has drifted away from part of the rules.
constexpr uint64_t kMinimumPer100k = 100;
constexpr int kMaxPrinted = 10;

TEST(AuthorizerModelTest, AgreesWithTheDocumentedRules) {
  const uint64_t seed = EnvNumber("NDX_MODEL_SEED").value_or(kDefaultSeed);
  const std::optional<uint64_t> only_world = EnvNumber("NDX_MODEL_WORLD");
  const uint64_t cases =
      only_world ? kRequestsPerWorld : EnvNumber("NDX_MODEL_CASES").value_or(kDefaultCases);

  DatasetEntries entries;
  std::array<uint64_t, kOutcomeCount> outcomes{};
  std::map<std::string, uint64_t> situations;
  // [model reason][reason in the real message], for refusals by rules 2 and 5.
  std::array<std::array<uint64_t, kOutcomeCount>, kOutcomeCount> reasons{};
  std::map<std::pair<int, int>, std::string> reason_examples;
  uint64_t done = 0;
  uint64_t disagreements = 0;
  uint64_t worlds = 0;
  for (uint64_t world_index = only_world.value_or(0); done < cases; ++world_index, ++worlds) {
    std::seed_seq seed_seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                           static_cast<uint32_t>(world_index),
                           static_cast<uint32_t>(world_index >> 32)};
    std::mt19937_64 rng(seed_seq);
    Random random(&rng);
    World world = MakeWorld(random);
    std::shared_ptr<const internal::SnapshotImpl> snapshot = BuildSnapshot(world, entries);
    if (only_world) std::cout << WorldText(world);
    for (int i = 0; i < kRequestsPerWorld && done < cases; ++i, ++done) {
      Request request = MakeRequest(random, world);
      Prediction expected = Predict(world, request);
      Answer actual = Ask(*snapshot, request);
      ++outcomes[expected.outcome];
      for (const std::string& situation : Situations(request, expected)) ++situations[situation];
      if (OutcomeCode(expected.outcome) == absl::StatusCode::kPermissionDenied &&
          actual.status.code() == absl::StatusCode::kPermissionDenied && !expected.state_unset) {
        Outcome real = ReasonOf(actual.status);
        if (++reasons[expected.outcome][real] == 1 && real != expected.outcome) {
          reason_examples[{expected.outcome, real}] =
              absl::StrCat("world ", world_index, " case ", i, ": ", actual.status.ToString());
        }
      }
      std::string disagreement = Disagreement(world, request, expected, actual);
      if (only_world) {
        std::cout << "case " << i << ": " << RequestText(request)
                  << "\n  model: " << PredictionText(expected)
                  << "\n  real:  " << AnswerText(actual) << "\n";
      }
      if (disagreement.empty()) continue;
      if (++disagreements > kMaxPrinted) continue;
      ADD_FAILURE() << "seed " << seed << ", case " << done << " (world " << world_index
                    << ", request " << i << "): " << disagreement << "\n"
                    << WorldText(world) << "request: " << RequestText(request)
                    << "\nmodel: " << PredictionText(expected) << "\nreal:  " << AnswerText(actual)
                    << "\nreproduce: NDX_MODEL_SEED=" << seed << " NDX_MODEL_WORLD=" << world_index
                    << " authorizer_model_test";
    }
  }
  EXPECT_EQ(disagreements, 0u) << "of " << done << " cases";

  std::cout << "seed " << seed << ": " << done << " cases in " << worlds << " worlds, "
            << disagreements << " disagreements\n";
  for (int outcome = 0; outcome < kOutcomeCount; ++outcome) {
    std::cout << "  " << OutcomeName(outcome) << ": " << outcomes[outcome] << "\n";
  }
  for (const std::string& situation : kSituations) {
    std::cout << "  " << situation << ": " << situations[situation] << "\n";
  }
  // The reasons are not checked (the doc leaves the message free and "closest" open to reading),
  // but where the real message names another reason than the model's, say so.
  uint64_t compared = 0;
  uint64_t same = 0;
  for (int model = 0; model < kOutcomeCount; ++model) {
    for (int real = 0; real < kOutcomeCount; ++real) {
      compared += reasons[model][real];
      if (model == real) same += reasons[model][real];
    }
  }
  std::cout << "  refusals whose message names the model's reason: " << same << " of " << compared
            << " (grants without a state left out)\n";
  for (int model = 0; model < kOutcomeCount; ++model) {
    for (int real = 0; real < kOutcomeCount; ++real) {
      if (model != real && reasons[model][real] != 0) {
        std::cout << "  refusal the model calls \"" << OutcomeName(model)
                  << "\" whose message reads as \"" << OutcomeName(real)
                  << "\": " << reasons[model][real] << ", first " << reason_examples[{model, real}]
                  << "\n";
      }
    }
  }

  if (only_world) return;
  const uint64_t minimum = kMinimumPer100k * cases / kDefaultCases;
  for (int outcome = 0; outcome < kOutcomeCount; ++outcome) {
    EXPECT_GE(outcomes[outcome], minimum) << "outcome \"" << OutcomeName(outcome)
                                          << "\" occurred too rarely in " << cases << " cases";
  }
  for (const std::string& situation : kSituations) {
    EXPECT_GE(situations[situation], minimum)
        << "\"" << situation << "\" occurred too rarely in " << cases << " cases";
  }
}

}  // namespace
}  // namespace ndx::registry
