#pragma once

#include <string>
#include <utility>
#include <vector>

#include "discovery/peer_source.h"

namespace podcache {

// Shorthands for the SourceMetric samples the sources export.
inline SourceMetric CounterMetric(std::string name, std::string help, double value,
                                  std::vector<std::pair<std::string, std::string>> labels = {}) {
  return SourceMetric{std::move(name), "counter", std::move(help), std::move(labels), value};
}
inline SourceMetric GaugeMetric(std::string name, std::string help, double value,
                                std::vector<std::pair<std::string, std::string>> labels = {}) {
  return SourceMetric{std::move(name), "gauge", std::move(help), std::move(labels), value};
}

// The samples every source exports: member sets reported, current members, errors by kind.
inline void AppendSourceMetrics(uint64_t updates, int64_t members,
                                const std::vector<std::pair<std::string, uint64_t>>& errors,
                                std::vector<SourceMetric>* out) {
  out->push_back(CounterMetric("podcache_discovery_updates_total",
                               "Member sets the discovery source reported (the first and every "
                               "change).",
                               static_cast<double>(updates)));
  out->push_back(GaugeMetric("podcache_discovery_members",
                             "Members the discovery source currently reports.",
                             static_cast<double>(members)));
  for (const auto& [kind, count] : errors) {
    out->push_back(CounterMetric("podcache_discovery_errors_total",
                                 "Discovery failures by kind; the last members stay in force.",
                                 static_cast<double>(count), {{"kind", kind}}));
  }
}

}  // namespace podcache
