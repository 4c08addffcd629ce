// Memory per item: what the operating system charges (RSS growth) for N items of 16-byte keys and
// 100-byte values, in podcache and in memcached holding the same items.

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "bench/memcached_process.h"
#include "bench/sections.h"
#include "core/hash.h"
#include "core/store.h"

namespace podcache::bench {
namespace {

struct MemoryResult {
  bool ok = false;
  std::string error;
  double rss_per_item = 0;
  double accounted_per_item = 0;
  double heap_per_item = 0;  // podcache only: bytes malloc handed out, chunk headers included
  std::string detail;
};

// Bytes glibc malloc has handed out: chunks in the arenas plus chunks served by mmap (large bucket
// arrays land there and uordblks alone would miss them).
size_t HeapInUse() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

MemoryResult MeasurePodcache(uint32_t n) {
  MemoryResult out;
  StoreOptions so;
  so.max_bytes = size_t{1} << 30;  // far more than n items need: nothing is evicted
  std::unique_ptr<Store> store = NewStore(so);
  // Keys and values are built in stack buffers so the only heap growth is the store's.
  char key[kKeySize];
  char value[kValueSize];
  FormatValue(7, value);
  int64_t rss0 = ReadRssBytes();
  size_t heap0 = HeapInUse();
  for (uint32_t i = 0; i < n; ++i) {
    FormatKey(i, key);
    std::string_view k(key, kKeySize);
    store->Insert(ValueRef::Make(k, HashBytes(k), std::string_view(value, kValueSize)),
                  store->generation());
  }
  int64_t rss1 = ReadRssBytes();
  size_t heap1 = HeapInUse();
  StoreStats st = store->Stats();
  if (st.items != n) {
    out.error =
        Format("store holds %llu of %u items", static_cast<unsigned long long>(st.items), n);
    return out;
  }
  out.ok = true;
  out.rss_per_item = static_cast<double>(rss1 - rss0) / n;
  out.accounted_per_item = static_cast<double>(st.bytes) / n;
  out.heap_per_item = static_cast<double>(heap1 - heap0) / n;
  out.detail = Format("rss %.1f -> %.1f MiB, %zu shards", rss0 / 1048576.0, rss1 / 1048576.0,
                      store->num_shards());
  return out;
}

MemoryResult MeasureMemcached(const std::string& binary, uint32_t n) {
  MemoryResult out;
  int port = FreePort();
  if (port < 0) {
    out.error = "no free port";
    return out;
  }
  std::vector<std::string> argv = {
      binary, "-p", std::to_string(port), "-l", "127.0.0.1", "-m", "1024", "-t", "1", "-U", "0"};
  // memcached refuses to run as root unless told which user to switch to.
  if (geteuid() == 0) {
    argv.push_back("-u");
    argv.push_back("nobody");
  }
  ChildProcess child;
  if (!child.Start(argv)) {
    out.error = "fork failed";
    return out;
  }
  int fd = -1;
  for (int i = 0; i < 250 && fd < 0; ++i) {
    if (!child.Running()) {
      out.error = "memcached exited at startup";
      return out;
    }
    fd = Connect(port);
    if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (fd < 0) {
    out.error = "memcached did not accept connections within 5 s";
    return out;
  }
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { close(*f); });

  std::string replies;
  if (!Roundtrip(fd, "version\r\n", "\r\n", &replies)) {
    out.error = "no reply to version";
    return out;
  }
  std::string version = replies.substr(0, replies.size() - 2);
  int64_t rss0 = ReadRssBytes(child.pid());

  // Pipelined noreply sets in ~1 MiB batches over the one connection.
  replies.clear();
  std::string batch;
  batch.reserve((1 << 20) + 256);
  char key[kKeySize];
  char value[kValueSize];
  FormatValue(7, value);
  for (uint32_t i = 0; i < n; ++i) {
    FormatKey(i, key);
    batch.append("set ");
    batch.append(key, kKeySize);
    batch.append(" 0 0 100 noreply\r\n");
    batch.append(value, kValueSize);
    batch.append("\r\n");
    if (batch.size() >= (1 << 20) || i + 1 == n) {
      if (!SendAll(fd, batch, &replies)) {
        out.error = "send failed";
        return out;
      }
      batch.clear();
    }
  }
  if (!replies.empty()) {
    out.error = "memcached answered a noreply set: " + replies.substr(0, 80);
    return out;
  }
  // The connection is processed in order, so a stats reply comes after every set. Also wait for a
  // hash-table expansion to finish: it briefly holds the old and new bucket arrays.
  std::string stats;
  for (int i = 0; i < 200; ++i) {
    stats.clear();
    if (!Roundtrip(fd, "stats\r\n", "END\r\n", &stats)) {
      out.error = "stats failed";
      return out;
    }
    if (StatValue(stats, "hash_is_expanding") == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  long long items = StatValue(stats, "curr_items");
  if (items != n) {
    out.error = Format("memcached holds %lld of %u items (evictions %lld)", items, n,
                       StatValue(stats, "evictions"));
    return out;
  }
  int64_t rss1 = ReadRssBytes(child.pid());
  child.Stop();
  out.ok = true;
  out.rss_per_item = static_cast<double>(rss1 - rss0) / n;
  out.accounted_per_item = static_cast<double>(StatValue(stats, "bytes")) / n;
  out.detail = Format("%s, rss %.1f -> %.1f MiB, hash_power_level %lld", version.c_str(),
                      rss0 / 1048576.0, rss1 / 1048576.0, StatValue(stats, "hash_power_level"));
  return out;
}

}  // namespace

void RunMemoryBench(const BenchOptions& options, Summary* summary) {
  const uint32_t n = options.quick ? 100'000 : 1'000'000;
  std::printf("\n== memory: RSS growth per item, %u items, %zu B keys, %zu B values ==\n", n,
              kKeySize, kValueSize);
  MemoryResult pod = MeasurePodcache(n);
  if (!pod.ok) {
    std::printf("podcache: FAILED: %s\n", pod.error.c_str());
    summary->Skip("FLOOR", "memory podcache <= memcached:", "podcache measurement failed");
    return;
  }
  std::printf(
      "podcache   %7.1f B/item RSS   %7.1f B/item accounted   %7.1f B/item malloc in use"
      "   (%s)\n",
      pod.rss_per_item, pod.accounted_per_item, pod.heap_per_item, pod.detail.c_str());

  std::string binary = FindMemcached();
  if (binary.empty()) {
    std::printf("memcached not found\n");
    summary->Skip("FLOOR", "memory podcache <= memcached:", "memcached not found");
    summary->Skip("GOAL", "memory podcache <= 0.8x memcached:", "memcached not found");
    return;
  }
  MemoryResult mc = MeasureMemcached(binary, n);
  if (!mc.ok) {
    std::printf("memcached: FAILED: %s\n", mc.error.c_str());
    summary->Skip("FLOOR", "memory podcache <= memcached:", mc.error);
    summary->Skip("GOAL", "memory podcache <= 0.8x memcached:", mc.error);
    return;
  }
  std::printf("memcached  %7.1f B/item RSS   %7.1f B/item accounted (stats bytes)   (%s, %s)\n",
              mc.rss_per_item, mc.accounted_per_item, binary.c_str(), mc.detail.c_str());
  double ratio = pod.rss_per_item / mc.rss_per_item;
  std::printf("ratio podcache/memcached RSS per item: %.2fx\n", ratio);
  summary->Add("FLOOR",
               Format("memory podcache <= memcached: %.1f vs %.1f B/item (%.2fx)", pod.rss_per_item,
                      mc.rss_per_item, ratio),
               ratio <= 1.0);
  summary->Add("GOAL", Format("memory podcache <= 0.8x memcached: %.2fx", ratio), ratio <= 0.8);
}

}  // namespace podcache::bench
