#include "sidecar/sidecar.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/log.h"
#include "core/reaper.h"
#include "discovery/membership.h"
#include "sidecar/cache_service.h"
#include "sidecar/http_server.h"
#include "sidecar/observability.h"
#include "sidecar/peer_source_factory.h"
#include "sidecar/version.h"
#include "transport/grpc_util.h"
#include "transport/peer_pool.h"
#include "transport/peer_service.h"
#include "transport/tls.h"
#include "transport/tls_reloader.h"

namespace podcache {
namespace {

// "host:port" with the port the kernel chose (the listen address may say port 0).
std::string BoundAddress(const std::string& listen, int port) {
  return listen.substr(0, listen.rfind(':') + 1) + std::to_string(port);
}

}  // namespace

Sidecar::Sidecar(Config config) : config_(std::move(config)) {}

Sidecar::~Sidecar() { Shutdown(); }

Status Sidecar::Start() {
  scheduler_.Start();
  GroupEnv env;
  env.scheduler = &scheduler_;
  env.clock = SystemClock::Get();
  if (config_.clustered()) {
    if (Status s = StartCluster(&env); !s.ok()) return s;
  }
  auto keyspaces = BuildKeyspaces(config_, env);
  if (!keyspaces.ok()) return keyspaces.status();
  keyspaces_ = std::move(keyspaces).value();
  reaper_ = std::make_unique<Reaper>(&scheduler_, config_.reap_interval_ms);
  for (auto& [name, ks] : keyspaces_) reaper_->Add(ks.group);
  reaper_->Start();

  http_ = std::make_unique<HttpServer>(
      config_.http_listen, [this](const std::string& path) { return HandleHttp(path); });
  if (Status s = http_->Start(); !s.ok()) return s;
  if (config_.clustered()) {
    if (Status s = StartPeerApi(); !s.ok()) return s;
    // Discovery starts once this node can answer its peers.
    auto source = MakePeerSource(config_);
    if (!source.ok()) return source.status();
    source_ = std::move(source).value();
    Membership* membership = membership_.get();
    std::string source_name = source_->name();
    // The source's first member set is published at once, not after the debounce, and only then
    // may the node be ready: a node that said ready while its ring still held only itself would
    // load keys that other nodes own.
    std::atomic<bool>* first_ring = &first_ring_;
    if (Status s =
            source_->Start([membership, source_name, first_ring](std::vector<std::string> members) {
              membership->Update(source_name, std::move(members));
              if (!first_ring->load()) {
                membership->PublishNow();
                first_ring->store(true);
              }
            });
        !s.ok()) {
      return s;
    }
    membership_->PublishNow();  // the first ring without waiting for the debounce
  }
  if (Status s = StartApi(); !s.ok()) return s;
  // What a supervisor (or a test) that asked for port 0 reads to learn the port.
  if (config_.clustered()) {
    LogInfo("listening",
            {{"api", api_bound_}, {"peer", peer_bound_}, {"http", config_.http_listen}});
  } else {
    LogInfo("listening", {{"api", api_bound_}, {"http", config_.http_listen}});
  }
  ready_ = true;
  LogInfo("podcache ready", {{"version", kPodcacheVersion},
                             {"api", api_bound_},
                             {"http", config_.http_listen},
                             {"keyspaces", static_cast<long long>(keyspaces_.size())}});
  return OkStatus();
}

HttpReply Sidecar::HandleHttp(const std::string& path) const {
  if (path == "/metrics") {
    return HttpReply{
        200, "text/plain; version=0.0.4; charset=utf-8",
        RenderPrometheus(keyspaces_, api_metrics_, ready()) +
            RenderClusterPrometheus(pool_.get(), membership_.get(), tls_rejections_.get()) +
            (source_ ? RenderSourcePrometheus(*source_) : std::string())};
  }
  if (path == "/healthz") return HttpReply{200, "text/plain; charset=utf-8", "ok\n"};
  if (path == "/readyz") {
    return ready() ? HttpReply{200, "text/plain; charset=utf-8", "ready\n"}
                   : HttpReply{503, "text/plain; charset=utf-8", "not ready\n"};
  }
  if (path == "/debug/keyspaces") {
    return HttpReply{200, "application/json", RenderKeyspacesJson(keyspaces_)};
  }
  if (path == "/debug/ring") {
    RingPtr ring = membership_ ? membership_->Ring() : Ring::Build({config_.advertise});
    return HttpReply{200, "application/json",
                     RenderRingJson(*ring, membership_ ? membership_->Self() : config_.advertise,
                                    membership_ ? membership_->publishes() : 0, pool_.get())};
  }
  return HttpReply{404, "text/plain; charset=utf-8",
                   "podcache: /metrics /healthz /readyz /debug/keyspaces /debug/ring\n"};
}

Status Sidecar::StartCluster(GroupEnv* env) {
  if (config_.insecure_peers) {
    LogWarn(
        "INSECURE: peer traffic is plaintext and unauthenticated (--insecure-peers); use it "
        "for local experiments only");
  }
  PeerPoolOptions pool;
  pool.insecure = config_.insecure_peers;
  // The peer TLS material in use, for the pool (client) and, through pool_->options(), the peer
  // port: the files are re-read every tls_reload_interval and a new pair is used only once it is
  // complete and valid.
  if (!pool.insecure) {
    TlsFiles files{config_.tls_cert, config_.tls_key, config_.tls_ca, config_.tls_peer_name,
                   config_.tls_reload_interval_ms};
    if (Status s = CheckTlsFiles(files); !s.ok()) return s;
    StatusOr<std::shared_ptr<TlsReloader>> tls = TlsReloader::Start(files, &scheduler_);
    if (!tls.ok()) return tls.status();
    pool.tls = std::move(tls).value();
  }
  tls_rejections_ = std::make_shared<TlsRejectionCounters>();
  pool.tls_rejections = tls_rejections_;
  pool.client.max_inflight = config_.peer_max_inflight;
  pool.client.max_batch = config_.peer_max_batch;
  pool.client.health = {config_.peer_eject_failures, config_.peer_eject_time_ms,
                        config_.peer_eject_max_time_ms};
  pool.client.probe_timeout_ms = config_.peer_timeout_ms;
  pool.client.scheduler = &scheduler_;  // the probes that end ejections
  pool.max_message_bytes = config_.max_message_bytes;
  pool_ = std::make_unique<PeerPool>(pool);
  MembershipOptions m;
  m.self = config_.advertise;
  m.debounce_ms = config_.membership_debounce_ms;
  m.max_members = static_cast<size_t>(config_.max_members);
  PeerPool* p = pool_.get();
  std::string self = config_.advertise;
  membership_ = std::make_unique<Membership>(
      m, &scheduler_, [p](const std::string& member) { return p->Client(member); },
      [p, self](const RingPtr& ring) { p->Update(ring->members(), self); });
  env->peers = membership_.get();
  env->peer_timeout_ms = config_.peer_timeout_ms;
  static_assert(Config::kAutoHedgeDelay == GroupEnv::kAutoHedgeDelay);
  env->peer_hedge_delay_ms = config_.peer_hedge_delay_ms;
  env->write_ack_wait_ms = config_.write_ack_wait_ms;
  env->repair_interval_ms = config_.repair_interval_ms;
  env->repair_max_keys = static_cast<size_t>(config_.repair_max_keys);
  return OkStatus();
}

Status Sidecar::StartPeerApi() {
  peer_service_ = std::make_unique<PeerService>(
      [this](std::string_view name) {
        auto it = keyspaces_.find(name);
        return it == keyspaces_.end() ? nullptr : it->second.group;
      },
      config_.max_keys_per_call, config_.max_message_bytes);
  int selected_port = 0;
  peer_server_ = StartGrpcServer(
      peer_service_.get(), config_.max_message_bytes, config_.peer_listen,
      config_.insecure_peers ? grpc::InsecureServerCredentials()
                             : PeerServerCredentials(pool_->options().tls, tls_rejections_),
      &selected_port);
  if (peer_server_ == nullptr || selected_port == 0) {
    return UnavailableError("cannot listen on " + config_.peer_listen + " (peer port)");
  }
  peer_bound_ = BoundAddress(config_.peer_listen, selected_port);
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
  service_ = std::make_unique<CacheService>(
      &keyspaces_, &api_metrics_,
      ApiLimits{config_.api_token, config_.max_keys_per_call, config_.max_message_bytes});
  int selected_port = 0;
  server_ = StartGrpcServer(service_.get(), config_.max_message_bytes, listen,
                            grpc::InsecureServerCredentials(), is_unix ? nullptr : &selected_port);
  if (server_ == nullptr || (!is_unix && selected_port == 0)) {
    return UnavailableError("cannot listen on " + listen + " (address in use or invalid)");
  }
  if (is_unix && ::chmod(socket_path.c_str(), config_.api_socket_mode) != 0) {
    return UnavailableError("cannot chmod " + socket_path);
  }
  api_bound_ = is_unix ? listen : BoundAddress(listen, selected_port);
  // Serving both for the whole server ("") and by service name, so
  // `grpc_health_probe -service podcache.v1.Cache` works too.
  server_->GetHealthCheckService()->SetServingStatus(true);
  server_->GetHealthCheckService()->SetServingStatus(v1::Cache::service_full_name(), true);
  return OkStatus();
}

void Sidecar::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    // Draining first: whoever sees readiness drop also sees new calls refused with UNAVAILABLE.
    auto grace_end =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.shutdown_grace_ms);
    if (service_ != nullptr) service_->StartDraining();
    ready_ = false;
    LogInfo("shutting down: not ready, draining calls",
            {{"grace_ms", static_cast<long long>(config_.shutdown_grace_ms)}});
    if (source_ != nullptr) source_->Stop();
    if (server_ != nullptr) {
      server_->GetHealthCheckService()->SetServingStatus(false);
      server_->GetHealthCheckService()->SetServingStatus(v1::Cache::service_full_name(), false);
      // The calls in flight finish while the server still answers (new calls: UNAVAILABLE).
      // Then the gRPC server stops at once: it cancels what outlived the grace, and does not
      // wait for idle client connections to go away, which a graceful gRPC shutdown would.
      while (service_->inflight() > 0 && std::chrono::steady_clock::now() < grace_end) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
      server_.reset();
    }
    // Peers may still be fetching keys this node owns: their calls get one peer timeout.
    if (peer_server_ != nullptr) {
      peer_server_->Shutdown(std::chrono::system_clock::now() +
                             std::chrono::milliseconds(config_.peer_timeout_ms));
      peer_server_->Wait();
      peer_server_.reset();
    }
    if (http_ != nullptr) http_->Stop();
    scheduler_.Stop();
    LogInfo("stopped");
  });
}

}  // namespace podcache
