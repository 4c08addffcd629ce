#include "transport/grpc_util.h"

#include <algorithm>

namespace podcache {

grpc::Status ToGrpcStatus(const Status& s) {
  return s.ok() ? grpc::Status::OK
                : grpc::Status(static_cast<grpc::StatusCode>(s.code()), s.message());
}

Status FromGrpcStatus(const grpc::Status& s) {
  return s.ok() ? OkStatus() : Status(static_cast<StatusCode>(s.error_code()), s.error_message());
}

Millis DeadlineOf(const grpc::ServerContextBase& ctx) {
  auto deadline = ctx.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return kNoDeadline;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::system_clock::now());
  return SystemClock::Get()->NowMs() + std::max<Millis>(0, left.count());
}

std::chrono::system_clock::time_point ToSystemDeadline(Millis deadline) {
  if (deadline == kNoDeadline) return std::chrono::system_clock::time_point::max();
  Millis left = std::max<Millis>(0, deadline - SystemClock::Get()->NowMs());
  return std::chrono::system_clock::now() + std::chrono::milliseconds(left);
}

}  // namespace podcache
