#include "core/reaper.h"

#include "core/group.h"

namespace podcache {

Reaper::Reaper(Scheduler* scheduler, Millis interval_ms, size_t buckets_per_shard,
               size_t shards_per_tick)
    : scheduler_(scheduler),
      interval_ms_(interval_ms),
      buckets_per_shard_(buckets_per_shard),
      shards_per_tick_(shards_per_tick) {}

Reaper::~Reaper() {
  MutexLock lock(&mu_);
  stopped_ = true;
  if (task_ != 0) scheduler_->Cancel(task_);
}

void Reaper::Add(std::weak_ptr<Group> group) {
  MutexLock lock(&mu_);
  groups_.push_back(std::move(group));
}

void Reaper::Start() {
  MutexLock lock(&mu_);
  if (task_ == 0 && !stopped_) Schedule();
}

void Reaper::Schedule() {
  task_ = scheduler_->RunAfter(interval_ms_, [this] {
    Tick();
    MutexLock lock(&mu_);
    if (!stopped_) Schedule();
  });
}

size_t Reaper::Tick() {
  MutexLock lock(&mu_);
  size_t dropped = 0;
  size_t shards = 0;
  for (size_t visited = 0; visited < groups_.size() && shards < shards_per_tick_;) {
    if (cursor_ >= groups_.size()) cursor_ = 0;
    std::shared_ptr<Group> group = groups_[cursor_].lock();
    if (group == nullptr) {
      groups_.erase(groups_.begin() + static_cast<std::ptrdiff_t>(cursor_));
      continue;
    }
    dropped += group->ReclaimExpired(buckets_per_shard_);
    shards += group->num_shards();
    ++cursor_;
    ++visited;
  }
  return dropped;
}

}  // namespace podcache
