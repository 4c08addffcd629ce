#include "transport/grpc_util.h"

#include <grpc/support/log.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <string>

#include "core/log.h"

namespace podcache {
namespace {

void GrpcLogSink(gpr_log_func_args* args) {
  static LogRateLimiter limiter(10000);
  LogLevel level = args->severity == GPR_LOG_SEVERITY_ERROR  ? LogLevel::kWarn
                   : args->severity == GPR_LOG_SEVERITY_INFO ? LogLevel::kInfo
                                                             : LogLevel::kDebug;
  if (!LogEnabled(level)) return;
  std::string site = std::string(args->file ? args->file : "?") + ":" + std::to_string(args->line);
  uint64_t suppressed = 0;
  if (!limiter.Allow(site, &suppressed)) return;
  Log(level, "grpc",
      {{"detail", args->message ? args->message : ""},
       {"site", site},
       {"suppressed", static_cast<long long>(suppressed)}});
}

}  // namespace

void RouteGrpcLogsToJson() { gpr_set_log_function(GrpcLogSink); }

std::unique_ptr<grpc::Server> StartGrpcServer(grpc::Service* service, uint64_t max_message_bytes,
                                              const std::string& listen,
                                              std::shared_ptr<grpc::ServerCredentials> credentials,
                                              int* selected_port) {
  grpc::ServerBuilder builder;
  if (!listen.empty()) builder.AddListeningPort(listen, std::move(credentials), selected_port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Peers' clients ping every second to find dead connections (PeerPool::Connect): allowed.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 500);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.SetMaxReceiveMessageSize(static_cast<int>(max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(max_message_bytes));
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

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
  return SaturatingAdd(SystemClock::Get()->NowMs(), std::max<Millis>(0, left.count()));
}

std::chrono::system_clock::time_point ToSystemDeadline(Millis deadline, const Clock& clock) {
  if (deadline == kNoDeadline) return std::chrono::system_clock::time_point::max();
  Millis left = std::max<Millis>(0, deadline - clock.NowMs());
  return std::chrono::system_clock::now() + std::chrono::milliseconds(left);
}

}  // namespace podcache
