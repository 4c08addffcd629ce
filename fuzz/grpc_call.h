#pragma once

// One unary call through a GenericStub with the request as raw bytes, for the gRPC fuzz targets:
// the call must complete (FUZZ_CHECK) within its deadline plus a grace, whatever the server does.
#include <grpcpp/generic/generic_stub.h>
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <future>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/log.h"
#include "fuzz/fuzz_check.h"

namespace podcache::fuzz {

struct CallResult {
  grpc::Status status;
  std::string response;  // the serialized response message, when OK
};

// The server of a gRPC target, built on the first input and never destroyed (gRPC's threads
// outlive the fuzzing loop), with podcache's and protobuf's logging quiet: protobuf logs every
// string field that is not UTF-8, and the targets send many.
template <typename Server>
Server& FuzzServer() {
  static Server* server = [] {
    podcache::SetLogLevel(podcache::LogLevel::kError);
    google::protobuf::SetLogHandler(nullptr);
    return new Server();
  }();
  return *server;
}

inline CallResult UnaryCall(grpc::GenericStub* stub, const std::string& method,
                            std::string_view request,
                            const std::vector<std::pair<std::string, std::string>>& metadata,
                            std::chrono::milliseconds deadline) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  for (const auto& [key, value] : metadata) ctx.AddMetadata(key, value);
  grpc::Slice slice(request.data(), request.size());
  grpc::ByteBuffer in(&slice, 1);
  grpc::ByteBuffer out;
  std::promise<grpc::Status> done;
  stub->UnaryCall(&ctx, method, grpc::StubOptions(), &in, &out,
                  [&done](grpc::Status s) { done.set_value(std::move(s)); });
  std::future<grpc::Status> finished = done.get_future();
  // gRPC ends the call at its deadline whatever the server does; a call still open well after
  // it would be a call the server never finished and gRPC never timed out.
  FUZZ_CHECK(finished.wait_for(deadline + std::chrono::seconds(3)) == std::future_status::ready);
  CallResult result{finished.get(), ""};
  if (result.status.ok()) {
    std::vector<grpc::Slice> slices;
    FUZZ_CHECK(out.Dump(&slices).ok());
    for (const grpc::Slice& s : slices) {
      result.response.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return result;
}

// The deadline a fuzz byte picks: mostly a long one, under which every call must complete with
// its own status; sometimes 0-63 ms, so that deadlines pass in the middle of loads and batches.
inline std::chrono::milliseconds PickDeadline(uint8_t byte, bool* long_deadline) {
  *long_deadline = (byte & 0x80) == 0;
  return std::chrono::milliseconds(*long_deadline ? 5000 : byte & 0x3f);
}

}  // namespace podcache::fuzz
