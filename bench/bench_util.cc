#include "bench/bench_util.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <fstream>

namespace podcache::bench {

void Summary::Add(const std::string& kind, const std::string& text, bool met) {
  std::string line = kind + " " + text + (met ? " MET" : " NOT MET");
  std::printf("%s\n", line.c_str());
  lines_.push_back({line, met ? 1 : 0, kind == "FLOOR"});
}

void Summary::Skip(const std::string& kind, const std::string& text, const std::string& why) {
  std::string line = kind + " " + text + " SKIPPED (" + why + ")";
  std::printf("%s\n", line.c_str());
  lines_.push_back({line, -1, kind == "FLOOR"});
}

void Summary::Print() const {
  std::printf("\n== summary ==\n");
  int floors = 0, floors_met = 0, goals = 0, goals_met = 0, skipped = 0;
  for (const Line& l : lines_) {
    std::printf("%s\n", l.text.c_str());
    if (l.verdict < 0) {
      ++skipped;
    } else if (l.floor) {
      ++floors;
      floors_met += l.verdict;
    } else {
      ++goals;
      goals_met += l.verdict;
    }
  }
  for (const std::string& n : notes_) std::printf("note: %s\n", n.c_str());
  std::printf("floors met: %d/%d   goals met: %d/%d   skipped: %d\n", floors_met, floors, goals_met,
              goals, skipped);
}

void BackgroundLoad::Snapshot(Sample* s) {
  s->wall = NowSeconds();
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                     steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  s->busy = static_cast<double>(user + nice + system + irq + softirq) / hz;
  s->steal = static_cast<double>(steal) / hz;
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  rusage self{}, children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  s->self = seconds(self.ru_utime) + seconds(self.ru_stime) + seconds(children.ru_utime) +
            seconds(children.ru_stime);
}

double BackgroundLoad::OtherCpus() const {
  Sample now;
  Snapshot(&now);
  double wall = now.wall - start_.wall;
  if (wall <= 0) return 0;
  // /proc/stat ticks are coarse (10 ms): clamp the rounding noise at zero.
  return std::max(0.0, ((now.busy - start_.busy) - (now.self - start_.self)) / wall);
}

double BackgroundLoad::StealCpus() const {
  Sample now;
  Snapshot(&now);
  double wall = now.wall - start_.wall;
  return wall > 0 ? (now.steal - start_.steal) / wall : 0;
}

std::string BackgroundLoad::Describe() const {
  double other = OtherCpus(), steal = StealCpus();
  std::string out = Format(
      "background: other processes used %.2f CPUs on average, hypervisor "
      "steal %.2f CPUs",
      other, steal);
  if (other > 0.1 || steal > 0.1) {
    out += " -- WARNING: the machine was not idle; timings, above all 2-thread scaling, suffer";
  }
  return out;
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int64_t ReadRssBytes(pid_t pid) {
  std::string path = pid == 0 ? "/proc/self/status" : "/proc/" + std::to_string(pid) + "/status";
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    long long kb = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %lld kB", &kb) == 1) return kb * 1024;
  }
  return -1;
}

std::string Format(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return buf;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace podcache::bench
