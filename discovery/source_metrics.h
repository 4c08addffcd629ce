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

}  // namespace podcache
