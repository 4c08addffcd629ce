#pragma once

// The echo servers' services: the same callback API and the same response shapes as podcache's
// app API (podcache.v1.Cache/Get) and peer API (podcache.peer.v1.Peer/Get), answering every call
// with one fixed value and no cache, so that a benchmark against them measures gRPC alone.

#include <grpcpp/grpcpp.h>

#include <string>

#include "podcache/peer/v1/peer.grpc.pb.h"
#include "podcache/v1/cache.grpc.pb.h"

namespace podcache::bench {

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

// The owner's side of a remote Get without the owner: what podcache's PeerService::Get answers
// (value and remaining TTL), from a constant.
class PeerEchoService final : public peer::v1::Peer::CallbackService {
 public:
  explicit PeerEchoService(size_t value_size) : value_(value_size, 'v') {}

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const peer::v1::GetRequest*,
                                peer::v1::GetResponse* response) override {
    response->set_value(value_.data(), value_.size());
    response->set_remaining_ttl_ms(0);
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const std::string value_;
};

}  // namespace podcache::bench
