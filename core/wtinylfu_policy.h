#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/entry_list.h"
#include "core/frequency_sketch.h"

namespace podcache {

// W-TinyLFU (Einziger, Friedman, Manes, ACM ToS 2017) with an adaptive window, as in Caffeine.
// New keys enter a small LRU admission window (1% of the bytes at first). The window's overflow
// goes to the probation segment of a segmented-LRU main region as candidates, and each eviction an
// insert causes is a contest between a candidate and probation's tail: the key with the higher
// estimated frequency in a count-min sketch (core/frequency_sketch.h, 4 bytes per key, charged to
// the shard's budget, halved periodically) stays, and ties go to the incumbent. A probation key
// that wins goes back to probation's head, so one key with a high count does not turn away every
// candidate until the next halving. A hit in probation promotes to protected (80% of main), kept in
// CLOCK order like slru's, whose overflow is demoted to probation's head.
//
// The window size is tuned by hill climbing on the shard's own hit rate: every sample (3 requests
// per cached key) the window moves by a step (6.25% of the bytes at first) in the direction that
// improved the hit rate, reversing when it got worse; the step decays by 2% per sample and restarts
// at full size when the hit rate jumps by 5 points.
//
// A hit costs one sketch increment (one cache line), a counter and either nothing (protected), a
// move to the window's head or a move from probation to protected: O(1), no allocation. The sketch
// grows (allocates) only on inserts.
//
// Measured (docs/benchmarks.md): much better than LRU on stationary Zipf, better on one-hit
// wonders and scans but not as good as slru, and far worse than LRU on the shifting hot set, where
// the frequency history keeps last phase's hot keys. Not the default.
// Not thread-safe: used by one store shard under its lock.
class WTinyLfuPolicy {
 public:
  explicit WTinyLfuPolicy(size_t capacity_bytes) : capacity_(capacity_bytes) { Reset(); }

  void Insert(Entry* e, size_t charge) {
    size_t entries = window_.size() + probation_.size() + protected_.size() + 1;
    if (entries > sketch_.capacity()) sketch_.Grow(entries);
    sketch_.Increment(e->hash32);
    ++misses_in_sample_;
    e->freq = kWindow;
    window_.PushFront(e, charge);
    // The window's overflow moves to probation's head as candidates: the evictions this insert
    // causes (the store calls Evict right after Insert, under the same lock) contest them.
    cand_ = nullptr;
    candidates_ = 0;
    while (window_.bytes() > window_target_ && !window_.empty()) {
      Entry* w = window_.back();
      size_t c = w->Charge();
      window_.Remove(w, c);
      w->freq = kProbation;
      probation_.PushFront(w, c);
      ++candidates_;
    }
    if (candidates_ != 0) cand_ = probation_.front();
    MaybeClimb();
  }

  void Touch(Entry* e) {
    cand_ = nullptr;  // candidates only live from an Insert to its evictions
    sketch_.Increment(e->hash32);
    ++hits_in_sample_;
    switch (e->freq & kSegmentMask) {
      case kWindow:
        window_.MoveToFront(e);
        break;
      case kProbation: {
        size_t charge = e->Charge();
        probation_.Remove(e, charge);
        Protect(e, charge);
        break;
      }
      default:
        e->freq |= kReferenced;  // CLOCK bit: a second chance at protected's tail
        break;
    }
    MaybeClimb();
  }

  void Remove(Entry* e, size_t charge) {
    cand_ = nullptr;
    ListOf(e).Remove(e, charge);
  }

  // Unlinks and returns the entry to evict, or null when empty.
  Entry* Evict() {
    evicting_ = true;
    DemoteOverflow(nullptr);  // the window may have grown since the last promotion
    Entry* victim = probation_.back();
    if (cand_ != nullptr && victim != nullptr && cand_ != victim) {
      Entry* cand = cand_;
      NextCandidate();
      if (Admit(cand, victim)) {
        if (cand_ == victim) {  // the victim was the last candidate
          cand_ = nullptr;
          candidates_ = 0;
        }
        probation_.Remove(victim, victim->Charge());
        return victim;
      }
      probation_.Remove(cand, cand->Charge());
      if (victim != cand_) {
        size_t vc = victim->Charge();
        probation_.Remove(victim, vc);
        probation_.PushFront(victim, vc);  // ahead of the remaining candidates: not one of them
      }
      return cand;
    }
    cand_ = nullptr;
    candidates_ = 0;
    if (victim != nullptr) {
      probation_.Remove(victim, victim->Charge());
      return victim;
    }
    if (Entry* p = protected_.back()) {  // probation empty: a tiny shard or a huge window
      protected_.Remove(p, p->Charge());
      return p;
    }
    Entry* w = window_.back();
    if (w != nullptr) window_.Remove(w, w->Charge());
    return w;
  }

  size_t MemoryBytes() const { return sketch_.bytes(); }

  void Reset() {
    window_.Reset();
    probation_.Reset();
    protected_.Reset();
    sketch_.Reset(kMinSketchKeys);
    cand_ = nullptr;
    candidates_ = 0;
    SetWindow(kInitialWindow * static_cast<double>(capacity_));
    step_ = -kStepShare * static_cast<double>(capacity_);
    hits_in_sample_ = misses_in_sample_ = 0;
    prev_hit_rate_ = 0;
    evicting_ = false;
    rng_ = 0x2545f4914f6cdd1dull;
  }

  // For tests.
  size_t window_target() const { return window_target_; }
  const FrequencySketch& sketch() const { return sketch_; }

 private:
  // Entry::freq holds the segment and the protected CLOCK bit.
  static constexpr uint8_t kWindow = 0;
  static constexpr uint8_t kProbation = 1;
  static constexpr uint8_t kProtected = 2;
  static constexpr uint8_t kSegmentMask = 3;
  static constexpr uint8_t kReferenced = 4;
  static constexpr size_t kMinSketchKeys = 16;
  static constexpr double kInitialWindow = 0.01;
  static constexpr double kProtectedShare = 0.8;  // of main (the bytes outside the window)
  static constexpr double kStepShare = 0.0625;
  static constexpr double kStepDecay = 0.98;
  static constexpr double kRestartThreshold = 0.05;
  static constexpr size_t kSampleFactor = 3;  // climber: requests per cached key per sample
  static constexpr size_t kMinSample = 64;

  EntryList& ListOf(Entry* e) {
    switch (e->freq & kSegmentMask) {
      case kWindow:
        return window_;
      case kProbation:
        return probation_;
      default:
        return protected_;
    }
  }

  // Candidates sit at probation's head in window order; the next one is behind the current one.
  void NextCandidate() {
    if (--candidates_ == 0 || cand_->next == nullptr) {
      cand_ = nullptr;
      candidates_ = 0;
    } else {
      cand_ = cand_->next;
    }
  }

  bool Admit(const Entry* cand, const Entry* victim) {
    int cf = sketch_.Frequency(cand->hash32);
    int vf = sketch_.Frequency(victim->hash32);
    if (cf > vf) return true;
    if (cf >= 6) {
      // Caffeine's defence against keys crafted to collide with a hot victim: a warm candidate
      // gets in now and then.
      rng_ ^= rng_ << 13;
      rng_ ^= rng_ >> 7;
      rng_ ^= rng_ << 17;
      return (rng_ & 127) == 0;
    }
    return false;
  }

  void Protect(Entry* e, size_t charge) {
    e->freq = kProtected;
    protected_.PushFront(e, charge);
    DemoteOverflow(e);
  }

  // Demotes protected's unreferenced tail to probation's head until it fits its target.
  void DemoteOverflow(const Entry* keep) {
    while (protected_.bytes() > protected_target_ && !protected_.empty() &&
           protected_.back() != keep) {
      Entry* tail = protected_.back();
      size_t c = tail->Charge();
      protected_.Remove(tail, c);
      if (tail->freq & kReferenced) {
        tail->freq = kProtected;
        protected_.PushFront(tail, c);
        continue;
      }
      tail->freq = kProbation;
      probation_.PushFront(tail, c);
    }
  }

  void SetWindow(double target) {
    double cap = static_cast<double>(capacity_);
    target = std::clamp(target, 0.0, cap);
    window_target_ = static_cast<size_t>(target);
    protected_target_ = static_cast<size_t>((cap - target) * kProtectedShare);
  }

  // Hill climbing on the hit rate of the last sample (Caffeine's simple climber).
  void MaybeClimb() {
    size_t requests = hits_in_sample_ + misses_in_sample_;
    size_t entries = window_.size() + probation_.size() + protected_.size();
    if (requests < std::max(kSampleFactor * entries, kMinSample)) return;
    double hit_rate = static_cast<double>(hits_in_sample_) / static_cast<double>(requests);
    hits_in_sample_ = misses_in_sample_ = 0;
    if (!evicting_) return;  // cold start: the shard is not full yet, the hit rate means nothing
    double change = hit_rate - prev_hit_rate_;
    double amount = change >= 0 ? step_ : -step_;
    step_ = std::abs(change) >= kRestartThreshold
                ? std::copysign(kStepShare * static_cast<double>(capacity_), amount)
                : kStepDecay * amount;
    prev_hit_rate_ = hit_rate;
    SetWindow(static_cast<double>(window_target_) + amount);
  }

  const size_t capacity_;
  size_t window_target_ = 0;
  size_t protected_target_ = 0;
  EntryList window_;
  EntryList probation_;
  EntryList protected_;
  FrequencySketch sketch_;
  Entry* cand_ = nullptr;  // the next candidate from the window (at probation's head), or null
  size_t candidates_ = 0;
  double step_ = 0;
  double prev_hit_rate_ = 0;
  size_t hits_in_sample_ = 0;
  size_t misses_in_sample_ = 0;
  bool evicting_ = false;
  uint64_t rng_ = 0;
};

}  // namespace podcache
