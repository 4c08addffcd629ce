#pragma once

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/status.h"

namespace podcache {

// The trailing metadata every answer of a podcache peer carries (peer.proto): an error with it was
// sent by the peer; one without it failed on the way (unreachable, timed out).
inline constexpr char kPeerAnswerKey[] = "podcache-peer-answer";

// Conversions between core's Status and gRPC's (the codes are numbered alike).
grpc::Status ToGrpcStatus(const Status& s);
Status FromGrpcStatus(const grpc::Status& s);

// Sends gRPC's own log lines (gpr_log, written to stderr as plain text by default) through
// podcache's JSON log: gRPC errors become warn lines {"msg":"grpc","detail":...,"site":file:line},
// at most one per site every 10 s (a client can trigger them at will), with the number suppressed.
// Call once at process start, before any gRPC object exists.
void RouteGrpcLogsToJson();

// A started gRPC server of `service` with the settings every podcache server shares: requests and
// responses up to `max_message_bytes`, and no SO_REUSEPORT (gRPC sets it by default, and a second
// process on the same port would then silently take half of the connections instead of failing
// to start). It listens on `listen` with `credentials`, and sets *selected_port (when given) to the
// TCP port bound, 0 when none was; with `listen` empty it serves in-process channels only. Null
// when it cannot start.
std::unique_ptr<grpc::Server> StartGrpcServer(
    grpc::Service* service, uint64_t max_message_bytes, const std::string& listen = "",
    std::shared_ptr<grpc::ServerCredentials> credentials = nullptr, int* selected_port = nullptr);

// The deadline of a server call on the core clock (kNoDeadline when it has none).
Millis DeadlineOf(const grpc::ServerContextBase& ctx);
// A core deadline on `clock` as the absolute time gRPC wants.
std::chrono::system_clock::time_point ToSystemDeadline(Millis deadline, const Clock& clock);

}  // namespace podcache
