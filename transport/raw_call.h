#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include <memory>
#include <string>

#include "core/status.h"
#include "transport/grpc_util.h"

namespace podcache {

// One unary call of a service registered with raw (ByteBuffer) methods, which decodes its requests
// itself: gRPC answers a request it cannot decode with a bare UNIMPLEMENTED and no message (a
// proto3 string field that is not UTF-8 is enough), while podcache answers INVALID_ARGUMENT
// naming the message type. Allocated per call; Complete() frees it.
template <typename Req, typename Resp>
struct RawCall {
  Req request;
  Resp response;
  grpc::ByteBuffer* out = nullptr;  // gRPC's response buffer

  // A new call decoded from `in` (the call's own request bytes, which may be consumed), or null
  // with `*error` set.
  static std::unique_ptr<RawCall> Decode(const grpc::ByteBuffer* in, grpc::ByteBuffer* out,
                                         Status* error) {
    auto call = std::make_unique<RawCall>();
    call->out = out;
    if (!grpc::SerializationTraits<Req>::Deserialize(const_cast<grpc::ByteBuffer*>(in),
                                                     &call->request)
             .ok()) {
      *error = InvalidArgumentError("malformed " + Req::descriptor()->full_name() +
                                    ": not a protobuf message of this type, or a string field "
                                    "(keyspace) that is not UTF-8");
      return nullptr;
    }
    return call;
  }

  // Ends the call at `p` (a RawCall*): serializes the response into gRPC's buffer when `status`
  // is OK, frees the call, and returns the status to finish with.
  static grpc::Status Complete(void* p, const Status& status) {
    std::unique_ptr<RawCall> call(static_cast<RawCall*>(p));
    if (!status.ok()) return ToGrpcStatus(status);
    bool own_buffer = false;
    return grpc::SerializationTraits<Resp>::Serialize(call->response, call->out, &own_buffer);
  }
};

}  // namespace podcache
