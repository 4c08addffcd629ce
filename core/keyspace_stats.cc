#include "core/keyspace_stats.h"

namespace podcache {
namespace {

struct CounterText {
  const char* name;
  const char* help;
};

// In the order of KeyspaceStats::Counter.
constexpr CounterText kCounters[KeyspaceStats::kNumCounters] = {
    {"gets", "Get calls on this keyspace, from the app and from peers."},
    {"gets_from_peers",
     "Get calls that came from a peer (the owner serving a key to another node)."},
    {"misses", "Gets that found the key in neither the main nor the hot store."},
    {"loads", "Loader calls started by this node."},
    {"loads_deduped", "Gets that joined a load or peer fetch of the same key already in flight."},
    {"load_errors", "Loader calls that failed (a not-found answer is not an error)."},
    {"loads_rejected", "Loads refused because the keyspace's load queue was full."},
    {"not_found", "Misses answered not found (by the loader, or by a cache-aside keyspace)."},
    {"peer_gets", "Fetches of a key sent to its owner node."},
    {"peer_errors",
     "Fetches from the owner node whose call failed (not the owner's own error answers)."},
    {"local_fallback_loads",
     "Loads done on this node because the key's owner could not answer (failed call, ejected "
     "owner, no time left for a peer call); hedged loads are counted in hedged_loads."},
    {"ring_disagreements",
     "Peer Gets for keys that this node's ring gives to another node (rings not yet agreeing)."},
    {"hot_promotions", "Values of other nodes' popular keys copied into the hot store."},
    {"sets", "Valid Set calls received, from the app or forwarded by a peer."},
    {"deletes", "Valid Delete calls received, from the app or forwarded by a peer."},
    {"broadcasts_sent", "Hot-copy drops and generation bumps sent to peers (one per peer)."},
    {"broadcast_failures",
     "Propagation calls (hot-copy drops, generation bumps) to a peer that failed; what they "
     "carried stays queued for repair."},
    {"invalidations", "InvalidateKeyspace calls on this node (generation bumps started here)."},
    {"generations_refused",
     "Generations sent by peers that were refused for being above the allowed maximum."},
    {"peer_owner_errors",
     "Fetches the owner answered with an error of its own (its loader failed): passed on to the "
     "caller as they are, without a local load and without counting a peer error."},
    {"hedged_loads",
     "Local loads started because the owner had not answered within peer_hedge_delay."},
    {"hedge_wins", "Hedged local loads that answered before the owner."},
    {"hedges_throttled",
     "Hedged loads not started because the keyspace's hedge budget (10% of fetches) was spent."},
    {"peer_calls_skipped",
     "Misses loaded here without calling the owner: the owner was ejected, or the caller's "
     "deadline left no time for a peer call before a local load."},
    {"stale_served",
     "Answers given from a value past its TTL (source stale): stale-while-revalidate, "
     "stale-if-error, or an owner's stale answer passed on."},
    {"stale_revalidations", "Background loads started to refresh a value served stale."},
    {"stale_if_error_served", "Stale answers given because the load failed (stale-if-error)."},
    {"loader_breaker_opens", "Times the keyspace's loader circuit breaker opened."},
    {"loads_short_circuited", "Loads refused at once because the loader circuit breaker was open."},
    {"repairs_queued",
     "Times a peer could not be told of writes and its drops/generation bumps were queued for "
     "repair."},
    {"repairs_delivered", "Repair queues delivered once the peer answered again."},
    {"repair_overflows",
     "Repair queues that exceeded repair_max_keys and became 'clear your hot store'."},
    {"peer_syncs",
     "Syncs with a peer that came back or joined: its generation adopted, the hot store cleared."},
    {"hedges_skipped_owner_alive",
     "Hedged loads not started because the owner kept answering other calls until the peer "
     "call's deadline (busy, not hung)."},
};

}  // namespace

const char* KeyspaceCounterName(KeyspaceStats::Counter c) {
  return c >= 0 && c < KeyspaceStats::kNumCounters ? kCounters[c].name : "unknown";
}

const char* KeyspaceCounterHelp(KeyspaceStats::Counter c) {
  return c >= 0 && c < KeyspaceStats::kNumCounters ? kCounters[c].help : "Unknown counter.";
}

}  // namespace podcache
