#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace podcache::bench {

struct BenchOptions {
  // Smaller data sets and shorter trials: a smoke run, not figures to quote.
  bool quick = false;
  bool run_memory = true;
  bool run_get = true;
  bool run_hit_ratio = true;
};

// Every section reports its FLOOR (must hold) and GOAL (aspiration) verdicts here as well as
// inline, so a run ends with one block that can be compared across runs or pasted into a review.
class Summary {
 public:
  // Prints "<kind> <text> MET|NOT MET" now and keeps it for Print().
  void Add(const std::string& kind, const std::string& text, bool met);
  // For a check that could not be evaluated (e.g. memcached missing): "<kind> <text> SKIPPED".
  void Skip(const std::string& kind, const std::string& text, const std::string& why);
  // A free-form line for the summary block (not a verdict).
  void Note(const std::string& text) { notes_.push_back(text); }
  void Print() const;

 private:
  struct Line {
    std::string text;
    int verdict;  // 1 met, 0 not met, -1 skipped
    bool floor;
  };
  std::vector<Line> lines_;
  std::vector<std::string> notes_;
};

// All keys are exactly 16 bytes and all values 100 bytes, the sizes the floors are stated for.
inline constexpr size_t kKeySize = 16;
inline constexpr size_t kValueSize = 100;

// "key:" and 12 zero-padded decimal digits, kKeySize bytes, no terminator. REQUIRES: id < 10^12.
inline void FormatKey(uint64_t id, char* out) {
  out[0] = 'k';
  out[1] = 'e';
  out[2] = 'y';
  out[3] = ':';
  for (int i = kKeySize - 1; i >= 4; --i) {
    out[i] = static_cast<char>('0' + id % 10);
    id /= 10;
  }
}

// A kValueSize-byte value whose bytes depend on the id, so a reader that returned the wrong
// entry would change the checksum.
inline void FormatValue(uint64_t id, char* out) {
  for (size_t i = 0; i < kValueSize; ++i) out[i] = static_cast<char>('a' + (id + i) % 26);
}

// How busy the machine was with work other than this benchmark over an interval, from /proc/stat
// and getrusage. On a shared VM another process (a compiler, a test run) takes cores from the
// multi-threaded cells, and the hypervisor may take them too (steal): the report says so instead of
// printing a scaling figure that silently measured contention with a neighbour.
class BackgroundLoad {
 public:
  BackgroundLoad() { Snapshot(&start_); }
  // Average CPUs busy outside this process (and its reaped children) since construction.
  double OtherCpus() const;
  // Average CPUs taken by the hypervisor since construction.
  double StealCpus() const;
  // "background: ..." with a warning when OtherCpus() or StealCpus() exceeds 0.1.
  std::string Describe() const;

 private:
  struct Sample {
    double wall = 0;
    double busy = 0;   // seconds of all CPUs busy (user, nice, system, irq, softirq)
    double steal = 0;  // seconds stolen by the hypervisor
    double self = 0;   // CPU seconds of this process and its reaped children
  };
  static void Snapshot(Sample* s);
  Sample start_;
};

// Monotonic seconds.
double NowSeconds();

// VmRSS from /proc/<pid>/status in bytes (pid 0 = this process), or -1 when unreadable.
int64_t ReadRssBytes(pid_t pid = 0);

// printf into a std::string.
std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

double Median(std::vector<double> v);

}  // namespace podcache::bench
