#include "sidecar/keyspace_registry.h"

#include "sidecar/loaders.h"

namespace podcache {

StatusOr<KeyspaceMap> BuildKeyspaces(const Config& config, const GroupEnv& env) {
  KeyspaceMap out;
  for (const KeyspaceConfig& ks : config.keyspaces) {
    Keyspace k;
    k.config = ks;
    if (ks.loader.kind != LoaderConfig::Kind::kNone) {
      k.loader_metrics = std::make_shared<CallMetrics>();
    }
    auto loader = MakeLoader(ks, k.loader_metrics);
    if (!loader.ok()) return loader.status();
    auto group = Group::Create(ks.options, std::move(loader).value(), env);
    if (!group.ok()) {
      return InvalidArgumentError("keyspaces[" + ks.options.name +
                                  "]: " + group.status().message());
    }
    k.group = std::move(group).value();
    out.emplace(ks.options.name, std::move(k));
  }
  return out;
}

const char* ApiMethodName(ApiMethod m) {
  static const char* const kNames[] = {"Get",  "GetMany", "Set", "Delete", "InvalidateKeyspace",
                                       "Stats"};
  return kNames[static_cast<int>(m)];
}

}  // namespace podcache
