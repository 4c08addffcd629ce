#pragma once

namespace podcache {

// An eventfd that one thread polls and any thread can signal: how a discovery thread blocked in
// poll(2) (on DNS sockets, or between resolutions) is told to stop at once instead of at the end
// of its sleep. Notify() is thread-safe; Wait() and Clear() belong to the polling thread.
class WakeFd {
 public:
  WakeFd();
  ~WakeFd();
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;

  int fd() const { return fd_; }
  void Notify();
  // Blocks up to `timeout_ms` (or until Notify()); true when notified. The signal stays set
  // (stopping is permanent) until Clear().
  bool Wait(long long timeout_ms) const;
  void Clear();

 private:
  int fd_;
};

}  // namespace podcache
