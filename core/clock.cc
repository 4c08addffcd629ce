#include "core/clock.h"

#include <time.h>

namespace podcache {

SystemClock* SystemClock::Get() {
  static SystemClock clock;
  return &clock;
}

Millis SystemClock::NowMs() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Millis>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace podcache
