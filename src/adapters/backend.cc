#include "adapters/backend.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace ndx::adapters {

const FieldBinding* Binding::FindField(absl::string_view name) const {
  for (const FieldBinding& binding : fields) {
    if (binding.field->name() == name) return &binding;
  }
  return nullptr;
}

absl::StatusOr<std::vector<const FieldBinding*>> Binding::SelectFields(
    const std::vector<std::string>& names) const {
  std::vector<const FieldBinding*> selected;
  if (names.empty()) {
    for (const FieldBinding& binding : fields) selected.push_back(&binding);
    return selected;
  }
  for (const std::string& name : names) {
    const FieldBinding* binding = FindField(name);
    if (binding == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("dataset ", dataset, " (",
                                                     message->full_name(), ") has no field \"",
                                                     absl::CHexEscape(name), "\""));
    }
    if (std::find(selected.begin(), selected.end(), binding) == selected.end()) {
      selected.push_back(binding);
    }
  }
  // Declaration order keeps the SQL text, and so the prepared statement, the same for any order
  // the caller lists its fields in.
  std::sort(selected.begin(), selected.end());
  return selected;
}

}  // namespace ndx::adapters
