#include "testing/manual_scheduler.h"

namespace podcache {

int ManualScheduler::RunDue() {
  int ran = 0;
  std::function<void()> fn;
  while (queue_.PopDue(clock_->NowMs(), &fn)) {
    fn();
    fn = nullptr;
    ++ran;
  }
  return ran;
}

}  // namespace podcache
