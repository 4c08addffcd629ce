// podcache_core_bench: measures podcache's core store against baselines in one run and prints the
// ratios with FLOOR/GOAL verdicts. It is a report: the exit code is 0 whatever the verdicts.
//
//   podcache_core_bench [--quick] [--only=get|memory|hitratio]

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>

#include "bench/bench_util.h"
#include "bench/sections.h"

namespace podcache::bench {
namespace {

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: podcache_core_bench [--quick] [--only=get|memory|hitratio]\n"
               "  --quick   smaller data sets and shorter trials (a smoke run)\n"
               "  --only=S  run one section\n");
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

int Main(int argc, char** argv) {
  BenchOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--quick") {
      options.quick = true;
    } else if (arg.starts_with("--only=")) {
      std::string_view section = arg.substr(7);
      options.run_get = section == "get";
      options.run_memory = section == "memory";
      options.run_hit_ratio = section == "hitratio";
      if (!options.run_get && !options.run_memory && !options.run_hit_ratio) {
        std::fprintf(stderr, "unknown section '%.*s'\n", static_cast<int>(section.size()),
                     section.data());
        Usage(stderr);
        return 2;
      }
    } else if (arg == "--help" || arg == "-h") {
      Usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "unknown argument '%s'\n", argv[i]);
      Usage(stderr);
      return 2;
    }
  }
  // Line-buffered so progress shows when piped into tee or a log.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  std::printf("podcache_core_bench%s: %s, %u CPUs, compiler %s", options.quick ? " --quick" : "",
              CpuModel().c_str(), std::thread::hardware_concurrency(), __VERSION__);
#if defined(__OPTIMIZE__) && defined(NDEBUG)
  std::printf(", optimized\n");
#else
  std::printf("\nWARNING: not an optimized NDEBUG build: the figures mean nothing\n");
#endif

  double t0 = NowSeconds();
  Summary summary;
  // Each section ends with how busy the rest of the machine was while it ran.
  auto run = [&](const char* name, void (*section)(const BenchOptions&, Summary*)) {
    BackgroundLoad load;
    section(options, &summary);
    std::string line = load.Describe();
    std::printf("%s\n", line.c_str());
    summary.Note(std::string(name) + " " + line);
  };
  // Memory first: it measures RSS growth, which memory freed by the other sections would absorb.
  if (options.run_memory) run("memory", RunMemoryBench);
  if (options.run_get) run("get", RunGetBench);
  if (options.run_hit_ratio) run("hitratio", RunHitRatioBench);
  summary.Print();
  std::printf("total %.1f s\n", NowSeconds() - t0);
  return 0;
}

}  // namespace
}  // namespace podcache::bench

int main(int argc, char** argv) { return podcache::bench::Main(argc, argv); }
