#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace podcache {

// Bounds the size of a response made of many per-key results (GetMany, peer GetBatch) before it
// is built: every key's fixed part is reserved up front (Reserve), then each result takes the
// bytes of its value or message (Take) as it completes; a result that does not fit is answered
// with the short kOverBudget message instead (its bytes were reserved), so the finished
// response never exceeds the message limit. Thread-safe (results complete on many threads).
class ResponseBudget {
 public:
  // What a result carries when its value did not fit.
  static constexpr const char* kOverBudget =
      "the response would exceed max_message_bytes: ask for this key alone or in fewer keys";
  // Per result: protobuf tags, lengths, code, TTL, source, and room for kOverBudget.
  static constexpr size_t kPerResultBytes = 128;
  // A result's error message is cut to this many bytes.
  static constexpr size_t kMaxMessageBytes = 256;

  explicit ResponseBudget(uint64_t limit) : left_(static_cast<int64_t>(limit) - 64) {}

  // Reserves the fixed part of one result for a key of `key_bytes`; false when even that does not
  // fit (the request as a whole cannot be answered).
  bool Reserve(size_t key_bytes) { return Take(key_bytes + kPerResultBytes); }

  // Takes `bytes` for one result's payload; false (and nothing taken) when they do not fit.
  bool Take(size_t bytes) {
    int64_t want = static_cast<int64_t>(bytes);
    int64_t left = left_.load(std::memory_order_relaxed);
    while (left >= want) {
      if (left_.compare_exchange_weak(left, left - want, std::memory_order_relaxed)) return true;
    }
    return false;
  }

  // Charges one finished result (`status`, and a value of `value_bytes` when OK) and writes its
  // code, plus its message when it is not OK, into `result` (any proto with set_code and
  // set_message). The code is the result's own, or RESOURCE_EXHAUSTED (kOverBudget) when the value
  // does not fit; a message is cut to kMaxMessageBytes. True when the caller should copy the
  // value in.
  template <typename Result>
  bool ChargeInto(const Status& status, size_t value_bytes, Result* result) {
    Status out = status;
    if (out.ok() && !Take(value_bytes)) out = ResourceExhaustedError(kOverBudget);
    result->set_code(static_cast<int>(out.code()));
    if (out.ok()) return true;
    std::string message = Cut(out.message());
    if (!Take(message.size())) message = kOverBudget;
    result->set_message(std::move(message));
    return false;
  }

  // `message` cut to kMaxMessageBytes (on a UTF-8 boundary), for a result's error text.
  static std::string Cut(const std::string& message) {
    if (message.size() <= kMaxMessageBytes) return message;
    size_t n = kMaxMessageBytes;
    while (n > 0 && (static_cast<unsigned char>(message[n]) & 0xC0) == 0x80) --n;
    return message.substr(0, n);
  }

 private:
  std::atomic<int64_t> left_;
};

}  // namespace podcache
