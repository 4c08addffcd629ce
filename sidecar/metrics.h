#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"

namespace podcache {

// A Prometheus histogram of durations with fixed buckets (seconds). Observe is lock-free.
class Histogram {
 public:
  static constexpr std::array<double, 16> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                     1,      2.5,     5,      10};
  void Observe(double seconds);
  // Appends the _bucket, _sum and _count lines of `name` with the label set `labels`
  // (e.g. `method="Get"`).
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};  // last: +Inf
  std::atomic<uint64_t> sum_micros_{0};
};

// Calls by gRPC status code, plus a latency histogram: one per API method or loader.
class CallMetrics {
 public:
  static constexpr int kNumCodes = 17;
  void Record(StatusCode code, double seconds);
  uint64_t count(StatusCode code) const {
    return codes_[static_cast<int>(code)].load(std::memory_order_relaxed);
  }
  // `<name>{<labels>,code="OK"} N` for each code seen. Prometheus wants each family's lines
  // together, so counts and latency() are rendered separately.
  void RenderCounts(const std::string& name, const std::string& labels, std::string* out) const;
  const Histogram& latency() const { return latency_; }

 private:
  std::array<std::atomic<uint64_t>, kNumCodes> codes_{};
  Histogram latency_;
};

// Prometheus text helpers.
std::string PromEscape(const std::string& label_value);
void AppendHelp(std::string* out, const std::string& name, const char* type, const char* help);

}  // namespace podcache
