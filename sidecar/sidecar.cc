#include "sidecar/sidecar.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sidecar/cache_service.h"
#include "sidecar/http_server.h"
#include "sidecar/log.h"
#include "sidecar/observability.h"
#include "sidecar/version.h"

namespace podcache {

Sidecar::Sidecar(Config config) : config_(std::move(config)) {}

Sidecar::~Sidecar() { Shutdown(); }

Status Sidecar::Start() {
  scheduler_.Start();
  GroupEnv env;
  env.scheduler = &scheduler_;
  env.clock = SystemClock::Get();
  auto keyspaces = BuildKeyspaces(config_, env);
  if (!keyspaces.ok()) return keyspaces.status();
  keyspaces_ = std::move(keyspaces).value();
  for (auto& [name, ks] : keyspaces_) ks.group->StartReaper(config_.reap_interval_ms);

  http_ = std::make_unique<HttpServer>(config_.http_listen, [this](const std::string& path) {
    if (path == "/metrics") {
      return HttpReply{200, "text/plain; version=0.0.4; charset=utf-8",
                       RenderPrometheus(keyspaces_, api_metrics_, ready())};
    }
    if (path == "/healthz") return HttpReply{200, "text/plain; charset=utf-8", "ok\n"};
    if (path == "/readyz") {
      return ready() ? HttpReply{200, "text/plain; charset=utf-8", "ready\n"}
                     : HttpReply{503, "text/plain; charset=utf-8", "not ready\n"};
    }
    if (path == "/debug/keyspaces") {
      return HttpReply{200, "application/json", RenderKeyspacesJson(keyspaces_)};
    }
    return HttpReply{404, "text/plain; charset=utf-8",
                     "podcache: /metrics /healthz /readyz /debug/keyspaces\n"};
  });
  if (Status s = http_->Start(); !s.ok()) return s;
  if (Status s = StartApi(); !s.ok()) return s;
  ready_ = true;
  LogInfo("podcache ready", {{"version", kPodcacheVersion},
                             {"api", config_.api_listen},
                             {"http", config_.http_listen},
                             {"keyspaces", static_cast<long long>(keyspaces_.size())}});
  return OkStatus();
}

Status Sidecar::StartApi() {
  const std::string& listen = config_.api_listen;
  bool is_unix = listen.rfind("unix:", 0) == 0;
  std::string socket_path = is_unix ? listen.substr(5) : "";
  struct stat st;
  // A socket left by a previous run would make the bind fail; any other file is not ours.
  if (is_unix && ::lstat(socket_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    ::unlink(socket_path.c_str());
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  service_ = std::make_unique<CacheService>(&keyspaces_, &api_metrics_, config_.api_token);
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(),
                           is_unix ? nullptr : &selected_port);
  // Without this gRPC sets SO_REUSEPORT, and a second sidecar on the same port would silently
  // take half of the connections instead of failing to start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config_.max_message_bytes));
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || (!is_unix && selected_port == 0)) {
    return UnavailableError("cannot listen on " + listen + " (address in use or invalid)");
  }
  if (is_unix && ::chmod(socket_path.c_str(), config_.api_socket_mode) != 0) {
    return UnavailableError("cannot chmod " + socket_path);
  }
  server_->GetHealthCheckService()->SetServingStatus(true);
  return OkStatus();
}

void Sidecar::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    ready_ = false;
    if (server_ != nullptr) {
      LogInfo("shutting down: not ready, draining calls",
              {{"grace_ms", static_cast<long long>(config_.shutdown_grace_ms)}});
      server_->GetHealthCheckService()->SetServingStatus(false);
      server_->Shutdown(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(config_.shutdown_grace_ms));
      server_->Wait();
      server_.reset();
    }
    if (http_ != nullptr) http_->Stop();
    scheduler_.Stop();
    LogInfo("stopped");
  });
}

}  // namespace podcache
