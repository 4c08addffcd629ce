#pragma once

#include <chrono>
#include <future>
#include <thread>

namespace podcache::testing {

using namespace std::chrono_literals;

// Polls `done` (every millisecond) until it returns true or `timeout` has passed, and returns its
// last answer, so a test that waits for another thread fails with its own message instead of
// hanging until ctest kills it:
//   REQUIRE_MESSAGE(WaitUntil([&] { return ran >= 800; }), "only " << ran << " of 800 ran");
template <typename Predicate>
bool WaitUntil(Predicate done, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

// True when `future` is ready within `timeout`.
template <typename T>
bool ReadyWithin(const std::future<T>& future, std::chrono::milliseconds timeout = 10s) {
  return future.wait_for(timeout) == std::future_status::ready;
}

}  // namespace podcache::testing
