#include "gateway/projection.h"

#include <algorithm>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace ndx::gateway {

using google::protobuf::internal::WireFormatLite;

namespace {

// The next tag of `input` into `tag`: 0 at the clean end of `record`. False for a malformed tag:
// ReadTag returns 0 both at the end and on a bad varint (which may consume bytes, even the last
// ones), and a tag of field number 0 is not a field.
bool NextTag(google::protobuf::io::CodedInputStream& input, absl::string_view record,
             uint32_t* tag) {
  const int start = input.CurrentPosition();
  *tag = input.ReadTag();
  if (*tag == 0) return start == static_cast<int>(record.size());
  return WireFormatLite::GetTagFieldNumber(*tag) != 0;
}

}  // namespace

absl::StatusOr<std::string> ProjectFields(absl::string_view record, absl::Span<const int> allowed) {
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(record.data()),
                                               static_cast<int>(record.size()));
  std::string out;
  out.reserve(record.size());
  while (true) {
    int start = input.CurrentPosition();
    uint32_t tag = 0;
    if (!NextTag(input, record, &tag)) {
      return absl::InternalError("the adapter returned a malformed record (bad tag)");
    }
    if (tag == 0) break;
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
    uint32_t tag = 0;
    if (!NextTag(input, record, &tag)) {
      return absl::InternalError("the adapter returned a malformed record (bad tag)");
    }
    if (tag == 0) return value;
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
