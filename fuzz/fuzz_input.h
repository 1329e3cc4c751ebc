#ifndef NDX_FUZZ_FUZZ_INPUT_H_
#define NDX_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace ndx::fuzz {

// Splits one fuzz input into the several values a target needs, front to back, so that small
// changes of the input make small changes of the values. Past the end every value is empty or
// zero: any input, even an empty one, is a valid sequence of values.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  uint8_t TakeByte() {
    if (rest_.empty()) return 0;
    uint8_t byte = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return byte;
  }

  // A value in [0, bound) (bound > 0) from up to 8 bytes, little-endian.
  uint64_t TakeBelow(uint64_t bound) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64 && (bound - 1) >> shift != 0; shift += 8) {
      value |= static_cast<uint64_t>(TakeByte()) << shift;
    }
    return value % bound;
  }

  // A string of at most `max_size` bytes: a one-byte length, then that many bytes.
  std::string TakeString(size_t max_size = 255) {
    size_t size = std::min<size_t>(TakeByte(), max_size);
    size = std::min(size, rest_.size());
    std::string value(rest_.substr(0, size));
    rest_.remove_prefix(size);
    return value;
  }

  // Whatever is left.
  absl::string_view TakeRest() {
    absl::string_view rest = rest_;
    rest_ = {};
    return rest;
  }

  bool empty() const { return rest_.empty(); }

 private:
  absl::string_view rest_;
};

}  // namespace ndx::fuzz

#endif  // NDX_FUZZ_FUZZ_INPUT_H_
