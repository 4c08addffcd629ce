#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "bench/api/api_bench.h"
#include "bench/bench_util.h"

namespace podcache::bench {
namespace {

using Clock = std::chrono::steady_clock;
enum Phase { kWarmup, kMeasure, kStop };
constexpr long kMaxErrors = 100;  // a target failing this often is broken: stop, do not spin

// Key `i` of the `value_size`-byte values: 16 bytes, e.g. "s0100:0000004242".
std::string KeyName(size_t value_size, int i) { return Format("s%04zu:%010d", value_size, i); }

auto Deadline() { return std::chrono::system_clock::now() + std::chrono::seconds(10); }

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(ru.ru_utime) + seconds(ru.ru_stime);
}

class ClosedLoop {
 public:
  ClosedLoop(const std::string& target, const LoadOptions& options, size_t value_size, int keys)
      : options_(options), value_size_(value_size), keys_per_call_(keys), slots_(options.inflight) {
    auto credentials =
        options.credentials ? options.credentials : grpc::InsecureChannelCredentials();
    for (int i = 0; i < options.channels; ++i) {
      grpc::ChannelArguments args;
      args.SetInt("podcache.bench.channel_id", i);  // equal args would share one connection
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      if (options.credentials) args.SetSslTargetNameOverride(options.tls_target_name);
      stubs_.push_back(v1::Cache::NewStub(grpc::CreateCustomChannel(target, credentials, args)));
    }
    for (const std::string& key : options.keys) {
      gets_.emplace_back().set_keyspace(kKeyspace);
      gets_.back().set_key(key);
    }
    for (int i = 0; i < kKeys && options.keys.empty(); ++i) {
      if (keys == 1) {
        gets_.emplace_back().set_keyspace(kKeyspace);
        gets_.back().set_key(KeyName(value_size, i));
      } else {
        if (i % keys == 0) manys_.emplace_back().set_keyspace(kKeyspace);
        manys_.back().add_keys(KeyName(value_size, i));
      }
    }
  }

  LoadResult Run() {
    active_ = static_cast<int>(slots_.size());
    for (int i = 0; i < active_; ++i) Issue(i);
    std::unique_lock lock(mu_);
    auto stopped = [this] { return phase_.load() == kStop; };
    cv_.wait_for(lock, std::chrono::duration<double>(options_.warmup_seconds), stopped);
    Clock::time_point start = Clock::now();
    double cpu = SelfCpuSeconds();
    std::vector<double> server_start;
    for (pid_t pid : options_.server_pids) server_start.push_back(CpuSecondsOf(pid));
    if (!stopped()) phase_.store(kMeasure, std::memory_order_release);
    cv_.wait_for(lock, std::chrono::duration<double>(options_.duration_seconds), stopped);
    StopLocked();
    LoadResult r;
    r.seconds = std::max(0.0, std::chrono::duration<double>(end_ - start).count());
    if (r.seconds > 0) {
      r.client_cpu = (SelfCpuSeconds() - cpu) / r.seconds;
      for (size_t i = 0; i < server_start.size(); ++i) {
        double now = CpuSecondsOf(options_.server_pids[i]);
        double busy = now >= 0 && server_start[i] >= 0 ? (now - server_start[i]) / r.seconds : -1;
        r.server_cpus.push_back(busy);
        if (busy >= 0) r.server_cpu = std::max(0.0, r.server_cpu) + busy;
      }
    }
    cv_.wait(lock, [this] { return active_ == 0; });  // every call has a deadline
    std::vector<uint32_t> all;
    for (Slot& s : slots_) {
      all.insert(all.end(), s.latency_ns.begin(), s.latency_ns.end());
      if (r.first_error.empty()) r.first_error = s.first_error;
    }
    r.errors = errors_.load();
    r.calls = static_cast<long>(all.size());
    if (all.empty() || r.seconds <= 0) return r;
    r.qps = static_cast<double>(r.calls) / r.seconds;
    auto percentile = [&all](double q) {
      auto nth = all.begin() + std::min(all.size() - 1, static_cast<size_t>(q * all.size()));
      std::nth_element(all.begin(), nth, all.end());
      return *nth / 1e3;
    };
    r.p50_us = percentile(0.50);
    r.p99_us = percentile(0.99);
    return r;
  }

 private:
  struct Slot {  // used by one call at a time: no lock
    std::unique_ptr<grpc::ClientContext> ctx;
    Clock::time_point start;
    uint64_t seq = 0;
    v1::GetResponse get;
    v1::GetManyResponse many;
    std::vector<uint32_t> latency_ns;  // OK calls completed in the measured window
    std::string first_error;
  };

  void Issue(int i) {
    Slot& s = slots_[i];
    s.ctx = std::make_unique<grpc::ClientContext>();
    s.ctx->set_deadline(Deadline());
    auto* async = stubs_[i % stubs_.size()]->async();
    uint64_t n = s.seq++ * slots_.size() + i;  // the slots interleave: every key in turn
    s.start = Clock::now();
    if (keys_per_call_ == 1) {
      s.get.Clear();
      async->Get(s.ctx.get(), &gets_[n % gets_.size()], &s.get, [this, i](grpc::Status st) {
        const v1::GetResponse& got = slots_[i].get;
        v1::Source expected = options_.expect_source;
        OnDone(i,
               got.value().size() == value_size_ &&
                   (expected == v1::SOURCE_UNSPECIFIED || got.source() == expected),
               st);
      });
      return;
    }
    s.many.Clear();
    async->GetMany(s.ctx.get(), &manys_[n % manys_.size()], &s.many, [this, i](grpc::Status st) {
      bool hit = slots_[i].many.results_size() == keys_per_call_;
      for (const v1::KeyResult& k : slots_[i].many.results()) {
        hit &= k.code() == 0 && k.value().size() == value_size_;
      }
      OnDone(i, hit, st);
    });
  }

  void OnDone(int i, bool hit, const grpc::Status& status) {
    Slot& s = slots_[i];
    int phase = phase_.load(std::memory_order_acquire);
    bool stop = false;
    if (!status.ok() || !hit) {
      if (s.first_error.empty()) {
        s.first_error = status.ok() ? "a miss, a value of the wrong size or from another source"
                                    : Format("code %d: %s", static_cast<int>(status.error_code()),
                                             status.error_message().c_str());
      }
      stop = errors_.fetch_add(1) + 1 >= kMaxErrors;
    } else if (phase == kMeasure) {
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - s.start);
      s.latency_ns.push_back(static_cast<uint32_t>(std::min<long>(ns.count(), UINT32_MAX)));
      stop = measured_.fetch_add(1, std::memory_order_relaxed) + 1 >= options_.max_calls;
    }
    if (stop || phase == kStop) {
      std::lock_guard lock(mu_);
      if (stop) StopLocked();
      if (--active_ == 0) cv_.notify_all();
      return;
    }
    Issue(i);
  }

  void StopLocked() {
    if (phase_.load() == kStop) return;
    end_ = Clock::now();
    phase_.store(kStop, std::memory_order_release);
    cv_.notify_all();
  }

  const LoadOptions options_;
  const size_t value_size_;
  const int keys_per_call_;
  std::vector<std::unique_ptr<v1::Cache::Stub>> stubs_;
  std::vector<v1::GetRequest> gets_;       // built once, read by every call
  std::vector<v1::GetManyRequest> manys_;  // kKeys / keys_per_call of consecutive keys
  std::vector<Slot> slots_;
  std::atomic<int> phase_{kWarmup};
  std::atomic<long> measured_{0}, errors_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  Clock::time_point end_;  // guarded by mu_: the end of the measured window
  int active_ = 0;         // guarded by mu_: slots with a call in flight
};

}  // namespace

std::string FillKeys(const std::string& target, size_t value_size) {
  auto stub = v1::Cache::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  constexpr int kThreads = 16;
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      v1::SetRequest request;
      request.set_keyspace(kKeyspace);
      request.set_value(std::string(value_size, 'v'));
      request.set_ttl_ms(0);
      for (int i = t; i < kKeys && errors[t].empty(); i += kThreads) {
        grpc::ClientContext ctx;
        ctx.set_deadline(Deadline());
        request.set_key(KeyName(value_size, i));
        v1::SetResponse response;
        if (grpc::Status s = stub->Set(&ctx, request, &response); !s.ok()) {
          errors[t] = "Set: " + s.error_message();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& e : errors) {
    if (!e.empty()) return e;
  }
  return "";
}

LoadResult RunClosedLoop(const std::string& target, const LoadOptions& options, size_t value_size,
                         int keys_per_call) {
  return ClosedLoop(target, options, value_size, keys_per_call).Run();
}

}  // namespace podcache::bench
