#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/group.h"
#include "sidecar/config.h"
#include "sidecar/metrics.h"

namespace podcache {

// One configured keyspace of the node: its configuration, its group and its loader's metrics.
struct Keyspace {
  KeyspaceConfig config;
  std::shared_ptr<Group> group;
  std::shared_ptr<CallMetrics> loader_metrics;  // null for cache-aside keyspaces
};

// Every keyspace by name (sorted). Built once at start and read-only afterwards, so readers need
// no lock.
using KeyspaceMap = std::map<std::string, Keyspace, std::less<>>;

// Creates the group and loader of every configured keyspace.
StatusOr<KeyspaceMap> BuildKeyspaces(const Config& config, const GroupEnv& env);

// The app API methods, for per-method metrics.
enum class ApiMethod { kGet, kGetMany, kSet, kDelete, kInvalidateKeyspace, kStats, kNumMethods };
const char* ApiMethodName(ApiMethod m);

struct ApiMetrics {
  CallMetrics methods[static_cast<int>(ApiMethod::kNumMethods)];
  CallMetrics& operator[](ApiMethod m) { return methods[static_cast<int>(m)]; }
  const CallMetrics& operator[](ApiMethod m) const { return methods[static_cast<int>(m)]; }
};

}  // namespace podcache
