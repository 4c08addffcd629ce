#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace podcache::bench {

// The baseline: the LRU cache most people write first. One mutex, a std::list in recency order and
// an unordered_map from key to list node; Get moves the node to the front and returns a copy of the
// value, because with no reference counting a copy is the only safe thing to hand out once the lock
// is dropped. The map takes string_view lookups (transparent hash) so the caller does not pay a
// temporary key allocation per Get: that makes the baseline stronger, not weaker.
// Thread-safe.
class alignas(64) NaiveLru {
 public:
  explicit NaiveLru(size_t capacity_items) : capacity_(capacity_items) {}

  void Put(std::string_view key, std::string_view value) {
    std::lock_guard lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      it->second->second.assign(value);
      list_.splice(list_.begin(), list_, it->second);
      return;
    }
    list_.emplace_front(std::string(key), std::string(value));
    map_.emplace(list_.front().first, list_.begin());
    if (map_.size() > capacity_) {
      map_.erase(list_.back().first);
      list_.pop_back();
    }
  }

  std::optional<std::string> Get(std::string_view key) {
    std::lock_guard lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    list_.splice(list_.begin(), list_, it->second);
    return it->second->second;
  }

  size_t size() {
    std::lock_guard lock(mu_);
    return map_.size();
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using List = std::list<std::pair<std::string, std::string>>;

  std::mutex mu_;
  const size_t capacity_;
  List list_;
  std::unordered_map<std::string, List::iterator, Hash, std::equal_to<>> map_;
};

// The same naive LRU split into 64 independently locked shards chosen by std::hash, the usual first
// fix for lock contention. Each shard may hold `capacity_items_per_shard`. Thread-safe.
class ShardedNaiveLru {
 public:
  static constexpr size_t kShards = 64;

  explicit ShardedNaiveLru(size_t capacity_items_per_shard) {
    shards_.reserve(kShards);
    for (size_t i = 0; i < kShards; ++i) {
      shards_.push_back(std::make_unique<NaiveLru>(capacity_items_per_shard));
    }
  }

  void Put(std::string_view key, std::string_view value) { ShardFor(key).Put(key, value); }
  std::optional<std::string> Get(std::string_view key) { return ShardFor(key).Get(key); }

  size_t size() {
    size_t n = 0;
    for (auto& s : shards_) n += s->size();
    return n;
  }

 private:
  NaiveLru& ShardFor(std::string_view key) {
    return *shards_[std::hash<std::string_view>{}(key) % kShards];
  }

  std::vector<std::unique_ptr<NaiveLru>> shards_;
};

}  // namespace podcache::bench
