#pragma once

// Helpers shared by the fuzz targets. FUZZ_CHECK stays on in release builds (NDEBUG): a broken
// invariant is a finding, reported like a crash, with the condition and where it failed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace podcache::fuzz {

// Reads a fuzz input front to back; past its end every read gives zeros or empty text, so a
// target never needs to check sizes.
class InputReader {
 public:
  InputReader(const uint8_t* data, size_t size)
      : data_(reinterpret_cast<const char*>(data), size) {}

  uint8_t Byte() {
    if (data_.empty()) return 0;
    uint8_t b = static_cast<uint8_t>(data_.front());
    data_.remove_prefix(1);
    return b;
  }
  uint16_t U16() {
    uint16_t high = Byte();
    return static_cast<uint16_t>(high << 8 | Byte());
  }
  // Up to `n` bytes.
  std::string_view Bytes(size_t n) {
    std::string_view out = data_.substr(0, n);
    data_.remove_prefix(out.size());
    return out;
  }
  // A 16-bit big-endian length, then that many bytes (fewer at the end of the input).
  std::string_view Chunk() { return Bytes(U16()); }
  std::string_view Rest() { return Bytes(data_.size()); }
  bool empty() const { return data_.empty(); }

 private:
  std::string_view data_;
};

}  // namespace podcache::fuzz
