#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "core/clock.h"
#include "core/mutex.h"
#include "core/scheduler.h"

namespace podcache {

class Group;

// One reaper for every keyspace of a node: every `interval_ms` it reclaims expired entries
// (Group::ReclaimExpired) of the next keyspaces in turn, until it has walked `shards_per_tick`
// store shards, and goes on from there at the next tick. The work per tick is bounded whatever
// the number of keyspaces (a node with a thousand idle keyspaces stays idle); with many keyspaces
// each one is simply visited less often. Memory of expired entries also comes back on reads and
// evictions, so this only has to be steady, not quick.
//
// Thread-safe. Runs on the scheduler, which must outlive it; destroy it after the scheduler has
// stopped (or on the scheduler's thread). Holds the groups weakly and drops the ones that are gone.
class Reaper {
 public:
  Reaper(Scheduler* scheduler, Millis interval_ms, size_t buckets_per_shard = 4096,
         size_t shards_per_tick = 1024);
  ~Reaper();
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;

  void Add(std::weak_ptr<Group> group);
  // Schedules the first tick.
  void Start();
  // One tick's work, without rescheduling: for tests and Start. Returns the entries dropped.
  size_t Tick();

 private:
  void Schedule() REQUIRES(mu_);

  Scheduler* const scheduler_;
  const Millis interval_ms_;
  const size_t buckets_per_shard_;
  const size_t shards_per_tick_;
  Mutex mu_;
  std::vector<std::weak_ptr<Group>> groups_ GUARDED_BY(mu_);
  size_t cursor_ GUARDED_BY(mu_) = 0;  // the next group to visit
  Scheduler::TaskId task_ GUARDED_BY(mu_) = 0;
  bool stopped_ GUARDED_BY(mu_) = false;
};

}  // namespace podcache
