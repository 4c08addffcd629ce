#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <chrono>

#include "core/clock.h"
#include "core/status.h"

namespace podcache {

// Conversions between core's Status and gRPC's (the codes are numbered alike).
grpc::Status ToGrpcStatus(const Status& s);
Status FromGrpcStatus(const grpc::Status& s);

// The deadline of a server call on the core clock (kNoDeadline when it has none).
Millis DeadlineOf(const grpc::ServerContextBase& ctx);
// A core deadline as the absolute time gRPC wants.
std::chrono::system_clock::time_point ToSystemDeadline(Millis deadline);

}  // namespace podcache
