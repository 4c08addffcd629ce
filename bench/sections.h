#pragma once

#include "bench/bench_util.h"

namespace podcache::bench {

// RSS per item of podcache and of a memcached child process holding the same items.
// Run it first: it measures RSS growth, which memory freed by earlier sections would hide.
void RunMemoryBench(const BenchOptions& options, Summary* summary);

// Get-hit throughput of the naive baselines and podcache, 1 and 2 threads.
void RunGetBench(const BenchOptions& options, Summary* summary);

// Miss ratios of the LRU and S3-FIFO policies on generated traces.
void RunHitRatioBench(const BenchOptions& options, Summary* summary);

}  // namespace podcache::bench
