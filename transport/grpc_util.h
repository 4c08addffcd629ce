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

// Sends gRPC's own log lines (gpr_log, written to stderr as plain text by default) through
// podcache's JSON log: gRPC errors become warn lines {"msg":"grpc","detail":...,"site":file:line},
// at most one per site every 10 s (a client can trigger them at will), with the number suppressed.
// Call once at process start, before any gRPC object exists.
void RouteGrpcLogsToJson();

// The deadline of a server call on the core clock (kNoDeadline when it has none).
Millis DeadlineOf(const grpc::ServerContextBase& ctx);
// A core deadline on `clock` as the absolute time gRPC wants.
std::chrono::system_clock::time_point ToSystemDeadline(Millis deadline, const Clock& clock);

}  // namespace podcache
