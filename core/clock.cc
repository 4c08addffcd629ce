#include "core/clock.h"

#include <time.h>

namespace podcache {

SystemClock* SystemClock::Get() {
  // Never destroyed: threads that outlive main (gRPC's, a server kept to the end of a process)
  // may still read the time while static objects are destroyed at exit.
  static SystemClock* const clock = new SystemClock();
  return clock;
}

Millis SystemClock::NowMs() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Millis>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace podcache
