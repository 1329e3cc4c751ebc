#include "metrics/code_counters.h"

#include <utility>

namespace ndx::metrics {
namespace {

// By code number, as absl::StatusCodeToString spells them; a static table, because the label is
// written on every call and StatusCodeToString returns a new string.
constexpr const char* kCodeNames[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

int CodeIndex(absl::StatusCode code) {
  const int number = static_cast<int>(code);
  return number >= 0 && number < static_cast<int>(std::size(kCodeNames))
             ? number
             : static_cast<int>(absl::StatusCode::kUnknown);
}

}  // namespace

const char* CodeLabel(absl::StatusCode code) { return kCodeNames[CodeIndex(code)]; }

CodeCounters::CodeCounters(prometheus::Family<prometheus::Counter>& family,
                           prometheus::Labels labels)
    : family_(family), labels_(std::move(labels)) {
  static_assert(std::size(kCodeNames) == kCodes);
}

void CodeCounters::Increment(absl::StatusCode code) const {
  const int index = CodeIndex(code);
  prometheus::Counter* counter = counters_[index].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Two threads may both get here: Family::Add returns the same child to both.
    prometheus::Labels labels = labels_;
    labels.emplace("code", kCodeNames[index]);
    counter = &family_.Add(labels);
    counters_[index].store(counter, std::memory_order_release);
  }
  counter->Increment();
}

}  // namespace ndx::metrics
