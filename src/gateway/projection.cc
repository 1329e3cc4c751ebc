#include "gateway/projection.h"

#include <algorithm>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace ndx::gateway {

using google::protobuf::internal::WireFormatLite;

absl::StatusOr<std::string> ProjectFields(absl::string_view record, absl::Span<const int> allowed) {
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(record.data()),
                                               static_cast<int>(record.size()));
  std::string out;
  out.reserve(record.size());
  while (true) {
    int start = input.CurrentPosition();
    uint32_t tag = input.ReadTag();
    if (tag == 0) {
      // ReadTag returns 0 both at the clean end of the input and on a malformed tag.
      if (input.CurrentPosition() != static_cast<int>(record.size()) ||
          start != input.CurrentPosition()) {
        return absl::InternalError("the adapter returned a malformed record (bad tag)");
      }
      break;
    }
    if (WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_END_GROUP ||
        !WireFormatLite::SkipField(&input, tag)) {
      return absl::InternalError("the adapter returned a malformed record (truncated field)");
    }
    int number = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
    if (std::binary_search(allowed.begin(), allowed.end(), number)) {
      out.append(record.data() + start, static_cast<size_t>(input.CurrentPosition() - start));
    }
  }
  return out;
}

absl::StatusOr<std::string> FieldAsText(absl::string_view record, int number) {
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(record.data()),
                                               static_cast<int>(record.size()));
  std::string value;
  while (true) {
    uint32_t tag = input.ReadTag();
    if (tag == 0) {
      if (input.CurrentPosition() != static_cast<int>(record.size())) {
        return absl::InternalError("the adapter returned a malformed record (bad tag)");
      }
      return value;
    }
    bool ok = true;
    if (static_cast<int>(WireFormatLite::GetTagFieldNumber(tag)) != number) {
      ok = WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_END_GROUP &&
           WireFormatLite::SkipField(&input, tag);
    } else if (WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t length = 0;
      ok = input.ReadVarint32(&length) && input.ReadString(&value, static_cast<int>(length));
    } else if (WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT) {
      uint64_t varint = 0;
      ok = input.ReadVarint64(&varint);
      value = std::to_string(static_cast<int64_t>(varint));
    } else {
      ok = WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_END_GROUP &&
           WireFormatLite::SkipField(&input, tag);
    }
    if (!ok)
      return absl::InternalError("the adapter returned a malformed record (truncated field)");
  }
}

}  // namespace ndx::gateway
