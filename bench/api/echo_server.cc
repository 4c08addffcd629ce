#include <grpcpp/health_check_service_interface.h>

#include <cstdio>

#include "bench/api/api_bench.h"

namespace podcache::bench {
namespace {

class EchoService final : public v1::Cache::CallbackService {
 public:
  explicit EchoService(size_t value_size) : value_(value_size, 'v') {}

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const v1::GetRequest*,
                                v1::GetResponse* response) override {
    response->set_value(value_.data(), value_.size());  // a copy, as podcache copies from its store
    response->set_source(v1::SOURCE_MAIN);
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const std::string value_;
};

}  // namespace

int RunEchoServer(const std::vector<std::string>& listen, size_t value_size) {
  EchoService service(value_size);
  grpc::EnableDefaultHealthCheckService(true);  // as podcache (sidecar/sidecar.cc)
  grpc::ServerBuilder builder;
  for (const std::string& address : listen) {
    builder.AddListeningPort(address, grpc::InsecureServerCredentials());
  }
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(16 << 20);
  builder.SetMaxSendMessageSize(16 << 20);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    std::fprintf(stderr, "echo server: cannot listen\n");
    return 1;
  }
  server->Wait();  // until SIGTERM ends the process
  return 0;
}

}  // namespace podcache::bench
