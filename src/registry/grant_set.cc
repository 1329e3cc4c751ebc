#include "registry/grant_set.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "common/proto_time.h"

namespace ndx::registry {
namespace {

bool OlderThan(const v1::Grant& a, const v1::Grant& b) {
  return std::make_tuple(a.requested_at().seconds(), a.requested_at().nanos(),
                         absl::string_view(a.id())) < std::make_tuple(b.requested_at().seconds(),
                                                                      b.requested_at().nanos(),
                                                                      absl::string_view(b.id()));
}

// Appends `name` as its size, then its bytes. Sizes are 4 bytes, so no name is ever cut short:
// a separator byte could be forged by a name that contains it.
void AppendName(absl::string_view name, std::string* text) {
  uint32_t size = static_cast<uint32_t>(name.size());
  text->append(reinterpret_cast<const char*>(&size), sizeof(size));
  text->append(name.data(), name.size());
}

}  // namespace

absl::Span<const v1::Operation> DefaultOperations() {
  static constexpr v1::Operation kDefault[] = {v1::OPERATION_READ, v1::OPERATION_QUERY,
                                               v1::OPERATION_SUBSCRIBE};
  return kDefault;
}

void FillDefaultOperations(v1::Grant* grant) {
  if (grant->operations_size() > 0) return;
  for (v1::Operation operation : DefaultOperations()) grant->add_operations(operation);
}

std::shared_ptr<const GrantSet> GrantSet::Make(
    absl::string_view consumer, absl::string_view dataset,
    std::vector<std::shared_ptr<const v1::Grant>> grants) {
  std::sort(grants.begin(), grants.end(),
            [](const std::shared_ptr<const v1::Grant>& a,
               const std::shared_ptr<const v1::Grant>& b) { return OlderThan(*a, *b); });
  std::shared_ptr<GrantSet> set(new GrantSet());
  size_t size = consumer.size() + dataset.size() + 2;
  for (const std::shared_ptr<const v1::Grant>& grant : grants) {
    for (const std::string& purpose : grant->purposes()) size += purpose.size() + 4;
    for (const std::string& field : grant->fields()) size += field.size() + 4;
  }
  std::string& text = set->text_;
  text.reserve(size);
  text.append(consumer.data(), consumer.size()).push_back('\0');
  text.append(dataset.data(), dataset.size()).push_back('\0');
  set->consumer_size_ = static_cast<uint32_t>(consumer.size());
  set->dataset_size_ = static_cast<uint32_t>(dataset.size());
  set->grants_.reserve(grants.size());
  set->terms_.reserve(grants.size());
  for (const std::shared_ptr<const v1::Grant>& grant : grants) {
    GrantTerms terms;
    terms.grant = grant.get();
    terms.state = grant->state();
    terms.expires_at = FromProtoTime(grant->expires_at());
    for (int operation : grant->operations()) {
      terms.operations |= OperationBit(static_cast<v1::Operation>(operation));
    }
    terms.purposes = static_cast<uint32_t>(text.size());
    for (const std::string& purpose : grant->purposes()) AppendName(purpose, &text);
    terms.fields = static_cast<uint32_t>(text.size());
    for (const std::string& field : grant->fields()) AppendName(field, &text);
    terms.end = static_cast<uint32_t>(text.size());
    set->terms_.push_back(terms);
    set->grants_.push_back(grant.get());
  }
  set->owned_ = std::move(grants);
  return set;
}

absl::string_view GrantSet::NameAt(size_t* at) const {
  uint32_t size;
  std::memcpy(&size, text_.data() + *at, sizeof(size));
  absl::string_view name(text_.data() + *at + sizeof(size), size);
  *at += sizeof(size) + size;
  return name;
}

bool GrantSet::Contains(uint32_t begin, uint32_t end, absl::string_view name) const {
  for (size_t at = begin; at < end;) {
    if (NameAt(&at) == name) return true;
  }
  return false;
}

}  // namespace ndx::registry
