#include "sidecar/grpc_loader.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "podcache/v1/loader.grpc.pb.h"

namespace podcache {

struct GrpcLoader::Impl {
  std::unique_ptr<v1::Loader::Stub> stub;
  Millis timeout_ms;
  uint64_t max_value_bytes;
};

namespace {

// One call in flight: gRPC needs the context and messages alive until the callback.
struct LoadCall {
  grpc::ClientContext context;
  v1::LoadRequest request;
  v1::LoadResponse response;
  Loader::DoneFn done;
};

}  // namespace

GrpcLoader::GrpcLoader(const std::string& target, Millis timeout_ms, uint64_t max_value_bytes)
    : impl_(new Impl) {
  grpc::ChannelArguments args;
  // Leave room for the value plus the message's framing.
  args.SetMaxReceiveMessageSize(
      static_cast<int>(std::min<uint64_t>(max_value_bytes + 4096, INT32_MAX)));
  impl_->stub = v1::Loader::NewStub(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  impl_->timeout_ms = timeout_ms;
  impl_->max_value_bytes = max_value_bytes;
}

GrpcLoader::~GrpcLoader() = default;

void GrpcLoader::Load(std::string_view keyspace, std::string_view key, Millis /*deadline*/,
                      DoneFn done) {
  auto* call = new LoadCall;
  call->request.set_keyspace(std::string(keyspace));
  call->request.set_key(std::string(key));
  call->done = std::move(done);
  call->context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::milliseconds(impl_->timeout_ms));
  uint64_t limit = impl_->max_value_bytes;
  Millis timeout = impl_->timeout_ms;
  impl_->stub->async()->Load(
      &call->context, &call->request, &call->response, [call, limit, timeout](grpc::Status s) {
        std::unique_ptr<LoadCall> owned(call);
        if (s.error_code() == grpc::StatusCode::NOT_FOUND || (s.ok() && !call->response.found())) {
          return call->done(NotFoundError("the loader has no such key"));
        }
        if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
          return call->done(
              DeadlineExceededError("loader timed out after " + std::to_string(timeout) + " ms"));
        }
        if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
            (s.ok() && call->response.value().size() > limit)) {
          return call->done(ResourceExhaustedError("loader value exceeds max_value_bytes=" +
                                                   std::to_string(limit)));
        }
        if (!s.ok()) {
          return call->done(UnavailableError("loader failed: " + s.error_message()));
        }
        Loaded loaded;
        loaded.value = std::move(*call->response.mutable_value());
        loaded.ttl_ms = call->response.has_ttl_ms() ? call->response.ttl_ms() : -1;
        if (loaded.ttl_ms < -1) loaded.ttl_ms = -1;
        // Stale windows: absent -> the keyspace's; negative -> none (core caps large ones).
        const auto& r = call->response;
        if (r.has_stale_while_revalidate_ms()) {
          loaded.stale_while_revalidate_ms = std::max<int64_t>(0, r.stale_while_revalidate_ms());
        }
        if (r.has_stale_if_error_ms()) {
          loaded.stale_if_error_ms = std::max<int64_t>(0, r.stale_if_error_ms());
        }
        call->done(std::move(loaded));
      });
}

}  // namespace podcache
