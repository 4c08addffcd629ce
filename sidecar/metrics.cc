#include "sidecar/metrics.h"

#include <cmath>
#include <cstdio>

namespace podcache {

void Histogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(std::llround(seconds * 1e6)),
                        std::memory_order_relaxed);
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string* out) const {
  uint64_t cumulative = 0;
  char bound[32];
  std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    if (i < kBounds.size()) {
      std::snprintf(bound, sizeof bound, "%g", kBounds[i]);
    } else {
      std::snprintf(bound, sizeof bound, "+Inf");
    }
    *out += name + "_bucket{" + labels + sep + "le=\"" + bound + "\"} " +
            std::to_string(cumulative) + "\n";
  }
  char sum[48];
  std::snprintf(sum, sizeof sum, "%.6f", sum_micros_.load(std::memory_order_relaxed) / 1e6);
  std::string braces = labels.empty() ? "" : "{" + labels + "}";
  *out += name + "_sum" + braces + " " + sum + "\n";
  *out += name + "_count" + braces + " " + std::to_string(cumulative) + "\n";
}

void CallMetrics::Record(StatusCode code, double seconds) {
  int c = static_cast<int>(code);
  if (c < 0 || c >= kNumCodes) c = static_cast<int>(StatusCode::kUnknown);
  codes_[c].fetch_add(1, std::memory_order_relaxed);
  latency_.Observe(seconds);
}

void CallMetrics::RenderCounts(const std::string& name, const std::string& labels,
                               std::string* out) const {
  for (int c = 0; c < kNumCodes; ++c) {
    uint64_t n = codes_[c].load(std::memory_order_relaxed);
    if (n == 0) continue;
    *out += name + "{" + labels + ",code=\"" +
            std::string(StatusCodeName(static_cast<StatusCode>(c))) + "\"} " + std::to_string(n) +
            "\n";
  }
}

std::string PromEscape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void AppendHelp(std::string* out, const std::string& name, const char* type, const char* help) {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace podcache
