#pragma once

#include <cstdint>

#include "core/store.h"

namespace podcache {

// Per-keyspace statistics of one node. Counters only grow.
struct KeyspaceStats {
  enum Counter {
    kGets,                // Get calls (app and peers)
    kGetsFromPeers,       // of which asked by a peer
    kMisses,              // neither main nor hot had it
    kLoads,               // loader calls started
    kLoadsDeduped,        // Gets that joined a load or fetch already in flight
    kLoadErrors,          // loader calls that failed (not counting NOT_FOUND)
    kLoadsRejected,       // loads refused because the load queue was full
    kNotFound,            // loader said NOT_FOUND
    kPeerGets,            // fetches sent to the owner
    kPeerErrors,          // fetches that failed
    kLocalFallbackLoads,  // loads done here because the owner could not answer
    kRingDisagreements,   // peer Gets for keys this node's ring gives to someone else
    kHotPromotions,       // values copied into the hot store
    kSets,
    kDeletes,
    kBroadcastsSent,     // hot-copy drops and generation bumps sent to peers
    kBroadcastFailures,  // propagation calls that failed (their items stay queued for repair)
    kInvalidations,
    kGenerationsRefused,   // peer AdvanceGeneration calls refused (beyond kMaxPeerGeneration)
    kPeerOwnerErrors,      // fetches the owner answered with an error of its own (its loader's)
    kHedgedLoads,          // local loads started because the owner was slow to answer
    kHedgeWins,            // ... that answered before the owner
    kHedgesThrottled,      // hedges not started: the keyspace's hedge budget was spent
    kPeerCallsSkipped,     // misses loaded here without asking the owner (ejected; no time left)
    kStaleServed,          // answers from a value past its TTL (source "stale")
    kStaleRevalidations,   // background refreshes started for stale-while-revalidate
    kStaleIfErrorServed,   // ... of stale answers, those given because a load failed
    kLoaderBreakerOpens,   // times the loader circuit breaker opened
    kLoadsShortCircuited,  // loads refused at once because the loader circuit breaker was open
    kRepairsQueued,        // a peer's propagation failed: its items were queued for repair
    kRepairsDelivered,     // ... and delivered once it answered again
    kRepairOverflows,      // repair queues beyond repair_max_keys, turned into clear-hot
    kPeerSyncs,            // syncs with a peer that came back or joined
    kHedgesSkippedOwnerAlive,  // hedges not started: the owner kept answering others (busy)
    kNumCounters,
  };
  uint64_t counters[kNumCounters] = {};
  StoreStats main;
  StoreStats hot;
  uint64_t generation = 0;
  int loads_active = 0;
  size_t loads_queued = 0;
  bool loader_breaker_open = false;  // open or half-open: loads are being refused

  uint64_t operator[](Counter c) const { return counters[c]; }
};

// The counter's name in Stats, /debug/keyspaces and (as podcache_<name>_total) /metrics.
const char* KeyspaceCounterName(KeyspaceStats::Counter c);
// One sentence that says what the counter counts: the HELP text of its metric family.
const char* KeyspaceCounterHelp(KeyspaceStats::Counter c);

}  // namespace podcache
