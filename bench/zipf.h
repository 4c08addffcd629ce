#pragma once

#include <cmath>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

namespace podcache::bench {

// SplitMix64: tiny, fast and statistically good enough for workload generation. Seeded explicitly
// so every run (and both sides of a comparison) sees the same requests.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 53 random bits.
  double NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n) without a division (Lemire's multiply-shift; bias is below 2^-32 here).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

 private:
  uint64_t state_;
};

// Zipf-distributed ranks in [0, n), rank 0 the most popular, with the closed-form method of Gray et
// al., "Quickly generating billion-record synthetic databases" (SIGMOD 1994), as YCSB uses it:
// O(n) once for zeta(n), then O(1) (one pow) per sample instead of a search over a CDF table.
class ZipfGenerator {
 public:
  ZipfGenerator(uint64_t n, double theta) : n_(n) {
    double zeta_n = Zeta(n, theta);
    zeta_n_ = zeta_n;
    alpha_ = 1.0 / (1.0 - theta);
    eta_ = (1.0 - std::pow(2.0 / static_cast<double>(n), 1.0 - theta)) /
           (1.0 - Zeta(2, theta) / zeta_n);
    half_pow_theta_ = 1.0 + std::pow(0.5, theta);
  }

  uint64_t Next(SplitMix64& rng) const {
    double u = rng.NextDouble();
    double uz = u * zeta_n_;
    if (uz < 1.0) return 0;
    if (uz < half_pow_theta_) return 1;
    auto r =
        static_cast<uint64_t>(static_cast<double>(n_) * std::pow(eta_ * u - eta_ + 1.0, alpha_));
    return r < n_ ? r : n_ - 1;
  }

  uint64_t n() const { return n_; }

 private:
  static double Zeta(uint64_t n, double theta) {
    double sum = 0;
    for (uint64_t i = 1; i <= n; ++i) sum += 1.0 / std::pow(static_cast<double>(i), theta);
    return sum;
  }

  uint64_t n_;
  double zeta_n_;
  double alpha_;
  double eta_;
  double half_pow_theta_;
};

// A seeded random permutation of [0, n). Zipf ranks are mapped through it so the popular keys are
// not the first keys loaded (whose entries sit next to each other on the heap and would share cache
// lines and pages, flattering every implementation) and land on unrelated shards. A permutation
// rather than hash-mod-n keeps the distribution exact: no two ranks collide on one key.
inline std::vector<uint32_t> RandomPermutation(uint32_t n, uint64_t seed) {
  std::vector<uint32_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0u);
  SplitMix64 rng(seed);
  for (uint32_t i = n; i > 1; --i) std::swap(perm[i - 1], perm[rng.Below(i)]);
  return perm;
}

}  // namespace podcache::bench
