#include "gateway/gateway_state_collector.h"

#include <filesystem>
#include <system_error>

#include "metrics/gauge_family.h"

namespace ndx::gateway {
namespace {

// The size of the regular files under `dir`; a file that vanishes while listed (RocksDB
// compacting) is skipped.
uint64_t DiskBytes(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code error;
  for (std::filesystem::recursive_directory_iterator it(dir, error), end; !error && it != end;
       it.increment(error)) {
    std::error_code size_error;
    if (!it->is_regular_file(size_error)) continue;
    const uintmax_t size = it->file_size(size_error);
    if (!size_error) bytes += size;
  }
  return bytes;
}

using metrics::GaugeFamily;
using metrics::GaugeSample;
using metrics::SingleGauge;

}  // namespace

std::vector<prometheus::MetricFamily> GatewayStateCollector::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  families.push_back(SingleGauge("ndx_registry_revision",
                                 "Revision of the registry snapshot that decisions use now",
                                 static_cast<double>(state_.registry->snapshot()->revision())));

  const uint64_t entries = state_.audit_log->size();
  families.push_back(SingleGauge("ndx_audit_log_entries", "Entries committed to the audit log",
                                 static_cast<double>(entries)));
  families.push_back(SingleGauge("ndx_audit_log_disk_bytes",
                                 "Bytes of the audit log's database files on disk",
                                 static_cast<double>(DiskBytes(state_.audit_log_dir))));

  absl::StatusOr<audit::SignedCheckpoint> latest = state_.checkpointer->Latest();
  families.push_back(SingleGauge(
      "ndx_audit_checkpoint_entries",
      "Entries covered by the latest signed audit checkpoint (its tree size); 0 before the first",
      latest.ok() ? static_cast<double>(latest->checkpoint.size) : 0.0));
  std::vector<GaugeSample> age;
  if (latest.ok()) {
    age.push_back({.labels = {},
                   .value = absl::ToDoubleSeconds(state_.clock->Now() - latest->checkpoint.time)});
  }
  families.push_back(GaugeFamily(
      "ndx_audit_checkpoint_age_seconds",
      "Seconds since the latest audit checkpoint was signed; absent before the first. A new one "
      "is signed each interval while the log grows",
      age));

  std::vector<GaugeSample> backlog;
  // A shared store (JetStream) that does not answer leaves the family empty for this scrape:
  // the events service logs why.
  absl::StatusOr<std::vector<v1::Subscription>> subscriptions =
      state_.events->ListSubscriptions("");
  for (const v1::Subscription& subscription :
       subscriptions.value_or(std::vector<v1::Subscription>())) {
    absl::StatusOr<uint64_t> read_head = state_.events->ReadHead(subscription.dataset());
    if (!read_head.ok()) continue;
    const uint64_t head = *read_head;
    const uint64_t acknowledged = subscription.acknowledged_sequence();
    backlog.push_back(
        {.labels = {{"subscriber", subscription.subscriber()}, {"dataset", subscription.dataset()}},
         .value = static_cast<double>(head > acknowledged ? head - acknowledged : 0)});
  }
  families.push_back(GaugeFamily(
      "ndx_events_backlog",
      "Events published to the dataset and not yet acknowledged by the subscription", backlog));
  return families;
}

}  // namespace ndx::gateway
