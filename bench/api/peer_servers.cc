// The servers of podcache_peer_bench's models: the mTLS echo (one hop) and the proxy in front of
// it (two hops). Both copy podcache's settings (sidecar/sidecar.cc, transport/peer_pool.cc) so
// that the model differs from podcache only in what podcache adds: the cache and its bookkeeping.

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "bench/api/echo_service.h"
#include "bench/api/peer_bench.h"

namespace podcache::bench {
namespace {

// podcache's defaults: --max-message-bytes (both servers and the peer channel) and
// --peer-timeout (the deadline of one peer call).
constexpr int kMaxMessageBytes = 16 << 20;
constexpr auto kPeerTimeout = std::chrono::milliseconds(1000);

// The channel arguments of PeerPool::Connect (transport/peer_pool.cc): keep them in step.
grpc::ChannelArguments PeerChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  args.SetSslTargetNameOverride(kPeerName);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return args;
}

// The app API of the two-hop model: what podcache's CacheService::Get does for a key another
// node owns, minus the cache. One upstream call per request, like GrpcPeerClient::SendGet while
// fewer than peer_max_inflight calls are in flight.
class ProxyService final : public v1::Cache::CallbackService {
 public:
  explicit ProxyService(std::shared_ptr<grpc::Channel> upstream)
      : stub_(peer::v1::Peer::NewStub(std::move(upstream))) {}

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const v1::GetRequest* request,
                                v1::GetResponse* response) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    auto* call = new Forward;  // owned by the callback: gRPC calls it exactly once
    call->request.set_keyspace(request->keyspace());
    call->request.set_key(request->key());
    call->request.set_ring_fingerprint(1);
    call->context.set_deadline(
        std::min(ctx->deadline(), std::chrono::system_clock::now() + kPeerTimeout));
    stub_->async()->Get(&call->context, &call->request, &call->response,
                        [call, reactor, response](grpc::Status status) {
                          std::unique_ptr<Forward> owned(call);
                          if (status.ok()) {
                            // A copy, as podcache copies the peer's value into a ValueRef and
                            // from it into the app's response.
                            response->set_value(call->response.value());
                            response->set_ttl_ms(call->response.remaining_ttl_ms());
                            response->set_source(v1::SOURCE_PEER);
                          }
                          reactor->Finish(status);
                        });
    return reactor;
  }

 private:
  struct Forward {
    grpc::ClientContext context;
    peer::v1::GetRequest request;
    peer::v1::GetResponse response;
  };
  std::unique_ptr<peer::v1::Peer::Stub> stub_;
};

int Serve(grpc::ServerBuilder* builder, const char* what, const std::string& listen) {
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder->SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder->SetMaxSendMessageSize(kMaxMessageBytes);
  std::unique_ptr<grpc::Server> server = builder->BuildAndStart();
  if (server == nullptr) {
    std::fprintf(stderr, "%s: cannot listen on %s\n", what, listen.c_str());
    return 1;
  }
  server->Wait();  // until SIGTERM ends the process
  return 0;
}

}  // namespace

std::shared_ptr<TlsReloader> LoadTls(const TlsFiles& files) {
  StatusOr<std::shared_ptr<TlsReloader>> tls = TlsReloader::Start(files, nullptr);
  if (!tls.ok()) {
    std::fprintf(stderr, "%s\n", tls.status().message().c_str());
    std::exit(1);
  }
  return std::move(tls).value();
}

int RunTlsEchoServer(size_t value_size, const std::string& listen, const TlsFiles& tls) {
  EchoService cache(value_size);
  PeerEchoService peer(value_size);
  grpc::ServerBuilder builder;
  // podcache's peer port credentials, verifier included: the handshake costs the same.
  builder.AddListeningPort(
      listen, PeerServerCredentials(LoadTls(tls), std::make_shared<TlsRejectionCounters>()));
  builder.RegisterService(&cache);
  builder.RegisterService(&peer);
  return Serve(&builder, "tls echo", listen);
}

int RunProxyServer(const std::string& listen, const std::string& upstream, const TlsFiles& tls) {
  // One channel to the upstream, as podcache keeps one channel per peer.
  ProxyService proxy(grpc::CreateCustomChannel(
      upstream, PeerChannelCredentials(LoadTls(tls), std::make_shared<TlsRejectionCounters>()),
      PeerChannelArguments()));
  grpc::EnableDefaultHealthCheckService(true);  // as podcache's app API (sidecar/sidecar.cc)
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials());
  builder.RegisterService(&proxy);
  return Serve(&builder, "proxy", listen);
}

}  // namespace podcache::bench
