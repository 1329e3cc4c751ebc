// Google Benchmark figures of the gateway's request path without the network: the authorization
// decision against registries of 1k to 1M grants (and the snapshot memory each grant costs), and
// the field projection of a record. The audit append and Merkle proofs are in ndx-audit-bench.
// Results: docs/performance.md.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "common/schema.h"
#include "gateway/projection.h"
#include "ndx/v1/registry.pb.h"
#include "registry/authorizer.h"
#include "registry/snapshot_impl.h"

namespace ndx {
namespace {

constexpr char kResidentProto[] = R"(syntax = "proto3";
package population.v1;
message Resident {
  string citizen_id = 1;
  string full_name = 2;
  string birth_date = 3;
  string province = 4;
  string address = 5;
  int64 household_size = 6;
  string notes = 7;
}
)";
constexpr char kDataset[] = "mops/residents";
constexpr char kPurpose[] = "health-insurance-enrolment";
const absl::Time kNow = absl::FromUnixSeconds(1795000000);

size_t HeapInUse() { return mallinfo2().uordblks; }

std::string Consumer(int i) { return absl::StrCat("agency-", i, "/system"); }

// A registry of one dataset and `grants` consumer nodes, each with one approved grant on it.
struct GrantRegistry {
  std::shared_ptr<const registry::internal::SnapshotImpl> snapshot;
  size_t grant_bytes = 0;  // heap taken by the grants, their index entries included
};

GrantRegistry BuildRegistry(int grants) {
  v1::Dataset dataset;
  dataset.set_id(kDataset);
  dataset.set_owner("mops/population");
  dataset.set_message_type("population.v1.Resident");
  dataset.set_key_field("citizen_id");
  absl::StatusOr<google::protobuf::FileDescriptorSet> schema =
      CompileProtoFile("resident.proto", kResidentProto);
  if (!schema.ok()) std::abort();
  *dataset.mutable_schema() = *schema;
  absl::StatusOr<std::shared_ptr<const registry::DatasetEntry>> entry =
      registry::internal::MakeDatasetEntry(dataset);
  if (!entry.ok()) std::abort();

  std::vector<std::shared_ptr<const v1::Node>> nodes;
  for (int i = -1; i < grants; ++i) {
    auto node = std::make_shared<v1::Node>();
    node->set_id(i < 0 ? "mops/population" : Consumer(i));
    node->set_state(v1::NODE_STATE_ACTIVE);
    node->set_adapter_endpoint("127.0.0.1:9000");
    nodes.push_back(std::move(node));
  }
  // The snapshot's own maps of nodes cost the same with or without grants: measured apart, so
  // that what remains is the cost of the grants.
  size_t before = HeapInUse();
  size_t without_grants = 0;
  {
    auto snapshot = registry::internal::SnapshotImpl::Build(1, nodes, {*entry}, {});
    without_grants = HeapInUse() - before;
  }
  before = HeapInUse();
  std::vector<std::shared_ptr<const v1::Grant>> list;
  list.reserve(grants);
  for (int i = 0; i < grants; ++i) {
    auto grant = std::make_shared<v1::Grant>();
    grant->set_id(absl::StrCat("g-", 100000000 + i));
    grant->set_consumer(Consumer(i));
    grant->set_dataset(kDataset);
    for (const char* field : {"citizen_id", "full_name", "birth_date", "province"}) {
      grant->add_fields(field);
    }
    grant->add_purposes(kPurpose);
    grant->set_state(v1::GRANT_STATE_APPROVED);
    *grant->mutable_expires_at() = ToProtoTime(kNow + absl::Hours(24 * 365));
    list.push_back(std::move(grant));
  }
  GrantRegistry registry;
  registry.snapshot = registry::internal::SnapshotImpl::Build(2, std::move(nodes),
                                                              {*std::move(entry)}, std::move(list));
  registry.grant_bytes = HeapInUse() - before - without_grants;
  return registry;
}

// One registry per size for the whole run: building 1M grants takes seconds.
const GrantRegistry& RegistryOf(int grants) {
  static absl::Mutex mutex;
  static auto* registries = new std::map<int, GrantRegistry>();
  absl::MutexLock lock(&mutex);
  auto it = registries->find(grants);
  if (it == registries->end()) it = registries->emplace(grants, BuildRegistry(grants)).first;
  return it->second;
}

// A read of every field the grant covers, for `purpose`.
registry::ReadRequest Request(absl::string_view purpose) {
  registry::ReadRequest request;
  request.dataset = kDataset;
  request.operation = v1::OPERATION_READ;
  request.purpose = purpose;
  return request;
}

// An allowed read by a random consumer (so that lookups are not served from a warm cache line),
// all fields of its grant.
void BM_Authorize(benchmark::State& state) {
  const int grants = static_cast<int>(state.range(0));
  const GrantRegistry& registry = RegistryOf(grants);
  std::vector<std::string> consumers;
  std::mt19937 random(42);
  for (int i = 0; i < 4096; ++i) consumers.push_back(Consumer(random() % grants));
  registry::ReadRequest request = Request(kPurpose);
  size_t i = 0;
  for (auto _ : state) {
    absl::StatusOr<registry::Decision> decision =
        registry::Authorize(*registry.snapshot, consumers[i++ & 4095], request, kNow);
    if (!decision.ok()) state.SkipWithError("refused");
    benchmark::DoNotOptimize(decision);
  }
  state.counters["grant_bytes"] =
      benchmark::Counter(static_cast<double>(registry.grant_bytes) / grants);
}
BENCHMARK(BM_Authorize)->Arg(1000)->Arg(100000)->Arg(1000000)->Unit(benchmark::kNanosecond);

// The same consumer again and again: the decision with its data in the CPU caches, as for the
// nodes that call most often.
void BM_AuthorizeSameCaller(benchmark::State& state) {
  const GrantRegistry& registry = RegistryOf(static_cast<int>(state.range(0)));
  registry::ReadRequest request = Request(kPurpose);
  const std::string consumer = Consumer(7);
  for (auto _ : state) {
    absl::StatusOr<registry::Decision> decision =
        registry::Authorize(*registry.snapshot, consumer, request, kNow);
    if (!decision.ok()) state.SkipWithError("refused");
    benchmark::DoNotOptimize(decision);
  }
}
BENCHMARK(BM_AuthorizeSameCaller)->Arg(1000)->Arg(1000000)->Unit(benchmark::kNanosecond);

// A refusal: the purpose is not covered.
void BM_AuthorizeRefused(benchmark::State& state) {
  const GrantRegistry& registry = RegistryOf(static_cast<int>(state.range(0)));
  registry::ReadRequest request = Request("marketing");
  for (auto _ : state) {
    absl::StatusOr<registry::Decision> decision =
        registry::Authorize(*registry.snapshot, Consumer(7), request, kNow);
    benchmark::DoNotOptimize(decision);
  }
}
BENCHMARK(BM_AuthorizeRefused)->Arg(1000000)->Unit(benchmark::kNanosecond);

// A record of about `bytes` bytes, most of them in the `notes` field (not granted).
std::string Record(int bytes) {
  std::string record;
  auto put = [&record](int number, const std::string& value) {
    record.push_back(static_cast<char>((number << 3) | 2));
    size_t size = value.size();
    while (size >= 0x80) {
      record.push_back(static_cast<char>((size & 0x7f) | 0x80));
      size >>= 7;
    }
    record.push_back(static_cast<char>(size));
    record += value;
  };
  put(1, "001090000001");
  put(2, "Nguyen Van An");
  put(3, "1990-04-12");
  put(4, "hanoi");
  put(5, "12 Hang Bac, Hoan Kiem");
  int rest = bytes - static_cast<int>(record.size()) - 4;
  put(7, std::string(rest > 0 ? rest : 0, 'x'));
  return record;
}

// Keeps the four granted fields of a record of range(0) bytes.
void BM_ProjectFields(benchmark::State& state) {
  std::string record = Record(static_cast<int>(state.range(0)));
  const std::vector<int> allowed = {1, 2, 3, 4};
  for (auto _ : state) {
    absl::StatusOr<std::string> projected = gateway::ProjectFields(record, allowed);
    benchmark::DoNotOptimize(projected);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(record.size()));
}
BENCHMARK(BM_ProjectFields)->Arg(128)->Arg(1024)->Arg(16384);

// Keeps every field: the whole record is copied.
void BM_ProjectAllFields(benchmark::State& state) {
  std::string record = Record(static_cast<int>(state.range(0)));
  const std::vector<int> allowed = {1, 2, 3, 4, 5, 6, 7};
  for (auto _ : state) {
    absl::StatusOr<std::string> projected = gateway::ProjectFields(record, allowed);
    benchmark::DoNotOptimize(projected);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(record.size()));
}
BENCHMARK(BM_ProjectAllFields)->Arg(1024)->Arg(16384);

}  // namespace
}  // namespace ndx

BENCHMARK_MAIN();
