// Fuzz target: the peer API (transport/peer_service.h), what another node, or anyone holding a
// cluster certificate, can send to the peer port. One real gRPC server is built once, in
// process, serving the real PeerService over real Groups (fuzz/fake_cluster.h); each input is
// one call through server->InProcessChannel, its request sent as raw bytes, since PeerService
// decodes requests itself.
//
// Input: [method][deadline][request...]: method % 6 picks Get, GetBatch, Set, Delete, DropHot or
// AdvanceGeneration; the deadline byte picks 5 s or 0-63 ms (fuzz/grpc_call.h).
// Checks: every call completes; under the long deadline it ends with its own status, never
// DEADLINE_EXCEEDED; a request that does not parse is INVALID_ARGUMENT ("malformed ..."), one
// that parses never is; an OK answer parses and matches its request (one GetBatch item per key,
// TTLs not negative, item codes that are gRPC codes); AdvanceGeneration answers OK exactly for
// generations up to Group::kMaxPeerGeneration.
#include "transport/peer_service.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "core/log.h"
#include "fuzz/fake_cluster.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/grpc_call.h"
#include "podcache/peer/v1/peer.pb.h"

namespace podcache {
namespace {

namespace pb = peer::v1;

constexpr int kMaxKeysPerCall = 1000;
constexpr uint64_t kMaxMessageBytes = 4 << 20;

struct PeerServer {
  PeerServer()
      : service([this](std::string_view name) { return cluster.Find(name); }, kMaxKeysPerCall,
                kMaxMessageBytes) {
    grpc::ServerBuilder builder;
    builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxMessageBytes));
    builder.SetMaxSendMessageSize(static_cast<int>(kMaxMessageBytes));
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    FUZZ_CHECK(server != nullptr);
    stub = std::make_unique<grpc::GenericStub>(server->InProcessChannel(grpc::ChannelArguments()));
  }
  fuzz::FakeCluster cluster;
  PeerService service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<grpc::GenericStub> stub;
};

template <typename Message>
bool Parse(std::string_view bytes, Message* message) {
  return message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

template <typename Request>
bool Parses(std::string_view bytes) {
  Request request;
  return Parse(bytes, &request);
}

bool IsGrpcCode(int code) { return code >= 0 && code <= 16; }

void Check(int method, std::string_view bytes, bool parses, const fuzz::CallResult& r,
           bool long_deadline) {
  if (!long_deadline) return;
  grpc::StatusCode code = r.status.error_code();
  FUZZ_CHECK(code != grpc::StatusCode::DEADLINE_EXCEEDED);
  bool malformed = code == grpc::StatusCode::INVALID_ARGUMENT &&
                   r.status.error_message().starts_with("malformed ");
  FUZZ_CHECK(malformed == !parses);
  if (!parses) return;
  switch (method) {
    case 0: {
      if (!r.status.ok()) return;
      pb::GetResponse response;
      FUZZ_CHECK(Parse(r.response, &response));
      FUZZ_CHECK(response.remaining_ttl_ms() >= 0);
      return;
    }
    case 1: {
      if (!r.status.ok()) return;
      pb::GetBatchRequest request;
      pb::GetBatchResponse response;
      FUZZ_CHECK(Parse(bytes, &request) && Parse(r.response, &response));
      FUZZ_CHECK(response.items_size() == request.keys_size());
      for (const pb::GetBatchItem& item : response.items()) {
        FUZZ_CHECK(IsGrpcCode(item.code()) && item.remaining_ttl_ms() >= 0);
        if (item.code() != 0) FUZZ_CHECK(item.value().empty());
      }
      return;
    }
    case 5: {
      pb::AdvanceGenerationRequest request;
      FUZZ_CHECK(Parse(bytes, &request));
      if (request.keyspace() != "users" && request.keyspace() != "sessions") return;
      FUZZ_CHECK(r.status.ok() == (request.generation() <= Group::kMaxPeerGeneration));
      return;
    }
    default:
      return;
  }
}

}  // namespace
}  // namespace podcache

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podcache;
  static PeerServer* server = &fuzz::FuzzServer<PeerServer>();
  static const char* const kMethods[] = {"Get",    "GetBatch", "Set",
                                         "Delete", "DropHot",  "AdvanceGeneration"};
  fuzz::InputReader in(data, size);
  int method = in.Byte() % 6;
  bool long_deadline = true;
  auto deadline = fuzz::PickDeadline(in.Byte(), &long_deadline);
  std::string_view bytes = in.Rest();
  bool parses = method == 0   ? Parses<pb::GetRequest>(bytes)
                : method == 1 ? Parses<pb::GetBatchRequest>(bytes)
                : method == 2 ? Parses<pb::SetRequest>(bytes)
                : method == 3 ? Parses<pb::DeleteRequest>(bytes)
                : method == 4 ? Parses<pb::DropHotRequest>(bytes)
                              : Parses<pb::AdvanceGenerationRequest>(bytes);
  fuzz::CallResult r =
      fuzz::UnaryCall(server->stub.get(), std::string("/podcache.peer.v1.Peer/") + kMethods[method],
                      bytes, {}, deadline);
  Check(method, bytes, parses, r, long_deadline);
  return 0;
}
