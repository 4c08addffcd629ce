#include "core/async_limiter.h"

#include <doctest/doctest.h>

#include <functional>
#include <vector>

namespace podcache {

TEST_CASE("limiter: at most `limit` run - the queue is bounded and drains in order") {
  AsyncLimiter limiter(2, 2);
  std::vector<int> started;
  for (int i = 0; i < 4; ++i) CHECK(limiter.Submit([&, i] { started.push_back(i); }));
  CHECK_FALSE(limiter.Submit([&] { started.push_back(99); }));  // queue full
  CHECK(started == std::vector<int>{0, 1});
  CHECK(limiter.active() == 2);
  CHECK(limiter.queued() == 2);
  limiter.Release();
  CHECK(started == std::vector<int>{0, 1, 2});
  limiter.Release();
  limiter.Release();
  limiter.Release();
  CHECK(started == std::vector<int>{0, 1, 2, 3});
  CHECK(limiter.active() == 0);
}

TEST_CASE("limiter: operations that finish synchronously do not recurse") {
  AsyncLimiter limiter(1, 200000);
  int ran = 0;
  // The first op stays running until every other is queued, then each op releases at once.
  std::function<void()> first_release;
  limiter.Submit([&] { first_release = [&] { limiter.Release(); }; });
  for (int i = 0; i < 100000; ++i) {
    limiter.Submit([&] {
      ++ran;
      limiter.Release();
    });
  }
  first_release();  // would overflow the stack if each Release ran the next one recursively
  CHECK(ran == 100000);
  CHECK(limiter.active() == 0);
}

}  // namespace podcache
