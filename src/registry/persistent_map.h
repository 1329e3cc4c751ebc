#ifndef NDX_REGISTRY_PERSISTENT_MAP_H_
#define NDX_REGISTRY_PERSISTENT_MAP_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"

namespace ndx::registry::internal {

// An immutable map from keys to shared immutable values, itself a two-level tree of shared parts:
// kFanout groups of kFanout hash shards. The copy made by With() or Without() shares every part
// but the path to one shard with the original, so a change costs O(size / kFanout^2 + 2 *
// kFanout) pointer copies instead of O(size), and never copies a value: about 250 entries for
// a million grants. This is what lets the registry build a new snapshot on every change.
//
// Keys are views into their value (KeyOf()(value) returns them), so copying a shard copies no
// string and a key lives exactly as long as its value.
// Thread-safe (immutable); copying is cheap (one shared_ptr).
template <typename K, typename V, typename KeyOf>
class PersistentMap {
 public:
  static constexpr size_t kFanout = 64;

  PersistentMap() = default;

  // Builds a map from values in one pass; a later value replaces an earlier one with its key.
  static PersistentMap FromValues(std::vector<std::shared_ptr<const V>> values) {
    // 64 KiB: on the heap rather than on a thread's stack.
    auto building =
        std::make_unique<std::array<std::array<std::shared_ptr<Shard>, kFanout>, kFanout>>();
    size_t size = 0;
    for (std::shared_ptr<const V>& value : values) {
      K key = KeyOf()(*value);
      Path path = PathOf(key);
      std::shared_ptr<Shard>& shard = (*building)[path.group][path.shard];
      if (shard == nullptr) shard = std::make_shared<Shard>();
      if (shard->erase(key) == 0) ++size;
      shard->emplace(key, std::move(value));
    }
    auto root = std::make_shared<Root>();
    for (size_t g = 0; g < kFanout; ++g) {
      std::shared_ptr<Group> group;
      for (size_t s = 0; s < kFanout; ++s) {
        std::shared_ptr<Shard>& shard = (*building)[g][s];
        if (shard == nullptr) continue;
        if (group == nullptr) group = std::make_shared<Group>();
        (*group)[s] = std::move(shard);
      }
      (*root)[g] = std::move(group);
    }
    return PersistentMap(std::move(root), size);
  }

  size_t size() const { return size_; }

  // nullptr when absent.
  const V* Find(const K& key) const {
    const std::shared_ptr<const V>* value = FindSlot(key);
    return value == nullptr ? nullptr : value->get();
  }
  std::shared_ptr<const V> FindShared(const K& key) const {
    const std::shared_ptr<const V>* value = FindSlot(key);
    return value == nullptr ? nullptr : *value;
  }

  // A copy in which `value` is stored under its key, replacing any previous value.
  PersistentMap With(std::shared_ptr<const V> value) const {
    K key = KeyOf()(*value);
    Path path = PathOf(key);
    const Shard* old_shard = ShardAt(path);
    auto shard =
        old_shard == nullptr ? std::make_shared<Shard>() : std::make_shared<Shard>(*old_shard);
    size_t size = size_;
    // The stored key is a view into the old value, which may die with the old map: erase the
    // entry rather than assign to it, so that the new key views the new value.
    if (shard->erase(key) == 0) ++size;
    shard->emplace(key, std::move(value));
    return Replace(path, std::move(shard), size);
  }

  // A copy without `key`; the same map when it is absent.
  PersistentMap Without(const K& key) const {
    if (FindSlot(key) == nullptr) return *this;
    Path path = PathOf(key);
    auto shard = std::make_shared<Shard>(*ShardAt(path));
    shard->erase(key);
    return Replace(path, shard->empty() ? nullptr : std::move(shard), size_ - 1);
  }

  // Calls f(const V&) for every value, in no particular order.
  template <typename F>
  void ForEach(F&& f) const {
    if (root_ == nullptr) return;
    for (const std::shared_ptr<const Group>& group : *root_) {
      if (group == nullptr) continue;
      for (const std::shared_ptr<const Shard>& shard : *group) {
        if (shard == nullptr) continue;
        for (const auto& [key, value] : *shard) f(*value);
      }
    }
  }

 private:
  using Shard = absl::flat_hash_map<K, std::shared_ptr<const V>>;
  // Null parts are empty, so that a small map does not allocate 4096 tables.
  using Group = std::array<std::shared_ptr<const Shard>, kFanout>;
  using Root = std::array<std::shared_ptr<const Group>, kFanout>;
  static_assert(sizeof(size_t) == 8, "PathOf takes the top 12 bits of a 64-bit hash");

  struct Path {
    size_t group;
    size_t shard;
  };

  PersistentMap(std::shared_ptr<const Root> root, size_t size)
      : root_(std::move(root)), size_(size) {}

  // The top bits of the hash pick the path; the tables inside use the low bits, so the two
  // choices stay independent.
  static Path PathOf(const K& key) {
    size_t hash = absl::Hash<K>()(key);
    return {hash >> 58, (hash >> 52) & (kFanout - 1)};
  }

  const Shard* ShardAt(Path path) const {
    if (root_ == nullptr) return nullptr;
    const std::shared_ptr<const Group>& group = (*root_)[path.group];
    return group == nullptr ? nullptr : (*group)[path.shard].get();
  }

  const std::shared_ptr<const V>* FindSlot(const K& key) const {
    const Shard* shard = ShardAt(PathOf(key));
    if (shard == nullptr) return nullptr;
    auto it = shard->find(key);
    return it == shard->end() ? nullptr : &it->second;
  }

  // A copy with the shard at `path` replaced (by null: removed), sharing everything else.
  PersistentMap Replace(Path path, std::shared_ptr<const Shard> shard, size_t size) const {
    auto root = root_ == nullptr ? std::make_shared<Root>() : std::make_shared<Root>(*root_);
    const std::shared_ptr<const Group>& old_group = (*root)[path.group];
    auto group =
        old_group == nullptr ? std::make_shared<Group>() : std::make_shared<Group>(*old_group);
    (*group)[path.shard] = std::move(shard);
    (*root)[path.group] = std::move(group);
    return PersistentMap(std::move(root), size);
  }

  std::shared_ptr<const Root> root_;
  size_t size_ = 0;
};

}  // namespace ndx::registry::internal

#endif  // NDX_REGISTRY_PERSISTENT_MAP_H_
