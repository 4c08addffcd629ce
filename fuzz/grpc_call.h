#pragma once

// One unary call through a GenericStub with the request as raw bytes, for the gRPC fuzz targets:
// the call must complete (FUZZ_CHECK) within its deadline plus a grace, whatever the server does.
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <array>
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

// True when `bytes` parse as a `Message` (into *message).
template <typename Message>
bool Parse(std::string_view bytes, Message* message) {
  return message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

// True when `bytes` parse as the `index`-th of Requests (a target's methods, in its order).
template <typename... Requests>
bool ParsesAs(size_t index, std::string_view bytes) {
  size_t i = 0;
  bool parsed = false;
  auto try_one = [&]<typename Request>() {
    if (i++ != index) return false;
    Request request;
    parsed = Parse(bytes, &request);
    return true;
  };
  (try_one.template operator()<Requests>() || ...);
  return parsed;
}

inline bool IsGrpcCode(int code) { return code >= 0 && code <= 16; }

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

// One input of a gRPC target as a call, and its answer.
struct TargetCall {
  int method = 0;              // index into the target's methods
  std::string_view request;    // the request bytes as sent
  bool parses = false;         // whether they parse as the method's request message
  bool long_deadline = false;  // see PickDeadline: only then must the call end with its own status
  CallResult result;
};

// Reads a call from `in` and makes it: a byte picks the method (`methods`, the names in the order
// of Requests, below `service` such as "/podcache.v1.Cache/"), a byte the deadline, then
// `read_metadata(in, &metadata)` reads what the call's metadata come from, and the rest is the
// request.
template <typename... Requests, typename ReadMetadata>
TargetCall MakeCall(grpc::GenericStub* stub, const std::string& service,
                    const std::array<const char*, sizeof...(Requests)>& methods, InputReader* in,
                    ReadMetadata read_metadata) {
  TargetCall c;
  c.method = in->Byte() % sizeof...(Requests);
  std::chrono::milliseconds deadline = PickDeadline(in->Byte(), &c.long_deadline);
  std::vector<std::pair<std::string, std::string>> metadata;
  read_metadata(in, &metadata);
  c.request = in->Rest();
  c.parses = ParsesAs<Requests...>(c.method, c.request);
  c.result = UnaryCall(stub, service + methods[c.method], c.request, metadata, deadline);
  return c;
}

// What every answer under a long deadline must be: not DEADLINE_EXCEEDED, and INVALID_ARGUMENT
// "malformed ..." exactly when the request does not parse.
inline void CheckStatus(const TargetCall& c) {
  grpc::StatusCode code = c.result.status.error_code();
  FUZZ_CHECK(code != grpc::StatusCode::DEADLINE_EXCEEDED);
  bool malformed = code == grpc::StatusCode::INVALID_ARGUMENT &&
                   c.result.status.error_message().starts_with("malformed ");
  FUZZ_CHECK(malformed == !c.parses);
}

}  // namespace podcache::fuzz
