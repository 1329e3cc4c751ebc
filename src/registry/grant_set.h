#ifndef NDX_REGISTRY_GRANT_SET_H_
#define NDX_REGISTRY_GRANT_SET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ndx/v1/registry.pb.h"

namespace ndx::registry {

// The operations of a grant that names none: one stored before grants had operations, or a
// request that asks for none. EXPORT is never among them.
absl::Span<const v1::Operation> DefaultOperations();

// `grant` with DefaultOperations() when it names no operation.
void FillDefaultOperations(v1::Grant* grant);

// What a decision checks of one grant, copied out of the grant message.
struct GrantTerms {
  const v1::Grant* grant = nullptr;
  v1::GrantState state = v1::GRANT_STATE_UNSPECIFIED;
  absl::Time expires_at;
  // Bit (1 << op) for each v1::Operation the grant allows.
  uint32_t operations = 0;
  // Offsets into the set's text: [purposes, fields) holds the purposes and [fields, end) the
  // field names, each as its size (4 bytes, native order) then its bytes.
  uint32_t purposes = 0;
  uint32_t fields = 0;
  uint32_t end = 0;
};

// Every grant of one consumer on one dataset, oldest first (by requested_at, then id), laid out
// for the authorizer. A grant message keeps its expiry, purposes and fields behind separate
// pointers, so checking one in a registry too large for the CPU caches costs a memory miss per
// pointer. Here the consumer and dataset ids (the set's key) and every purpose and field name
// are one string, and the terms sit in the set itself: a decision reads the set, its text and
// nothing else (docs/performance.md).
// Thread-safe (immutable once made).
class GrantSet {
 public:
  // The set of `grants`, which must all have `consumer` and `dataset`.
  static std::shared_ptr<const GrantSet> Make(absl::string_view consumer, absl::string_view dataset,
                                              std::vector<std::shared_ptr<const v1::Grant>> grants);

  absl::string_view consumer() const { return absl::string_view(text_).substr(0, consumer_size_); }
  absl::string_view dataset() const {
    return absl::string_view(text_).substr(consumer_size_ + 1, dataset_size_);
  }
  // Oldest first, as the two views below.
  absl::Span<const std::shared_ptr<const v1::Grant>> owned() const { return owned_; }
  absl::Span<const v1::Grant* const> grants() const { return grants_; }
  absl::Span<const GrantTerms> terms() const { return terms_; }

  static bool HasOperation(const GrantTerms& terms, v1::Operation operation) {
    return (terms.operations & OperationBit(operation)) != 0;
  }
  static uint32_t OperationBit(v1::Operation operation) {
    return operation > 0 && operation < 32 ? uint32_t{1} << operation : 0;
  }
  bool HasPurpose(const GrantTerms& terms, absl::string_view purpose) const {
    return Contains(terms.purposes, terms.fields, purpose);
  }
  bool HasField(const GrantTerms& terms, absl::string_view field) const {
    return Contains(terms.fields, terms.end, field);
  }
  // Calls f(absl::string_view) for each field name of `terms`.
  template <typename F>
  void ForEachField(const GrantTerms& terms, F&& f) const {
    for (size_t at = terms.fields; at < terms.end;) f(NameAt(&at));
  }

 private:
  GrantSet() = default;
  bool Contains(uint32_t begin, uint32_t end, absl::string_view name) const;
  // The name that starts at *at; moves *at past it.
  absl::string_view NameAt(size_t* at) const;

  // consumer '\0' dataset '\0', then each grant's purposes and fields.
  std::string text_;
  uint32_t consumer_size_ = 0;
  uint32_t dataset_size_ = 0;
  std::vector<std::shared_ptr<const v1::Grant>> owned_;
  std::vector<const v1::Grant*> grants_;
  // Most pairs have one grant: its terms then live in the set itself.
  absl::InlinedVector<GrantTerms, 1> terms_;
};

}  // namespace ndx::registry

#endif  // NDX_REGISTRY_GRANT_SET_H_
