#include "discovery/wake_fd.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace podcache {

WakeFd::WakeFd() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (fd_ < 0) std::abort();  // only without file descriptors left; nothing sensible to do
}

WakeFd::~WakeFd() { ::close(fd_); }

void WakeFd::Notify() {
  uint64_t one = 1;
  while (::write(fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

bool WakeFd::Wait(long long timeout_ms) const {
  pollfd p{fd_, POLLIN, 0};
  int timeout = timeout_ms > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(timeout_ms);
  int n = ::poll(&p, 1, timeout < 0 ? 0 : timeout);
  return n > 0 && (p.revents & POLLIN);
}

void WakeFd::Clear() {
  uint64_t value;
  while (::read(fd_, &value, sizeof value) < 0 && errno == EINTR) {
  }
}

}  // namespace podcache
