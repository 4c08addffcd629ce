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
#include "transport/grpc_util.h"

namespace podcache {
namespace {

using fuzz::IsGrpcCode;
using fuzz::Parse;

namespace pb = peer::v1;

constexpr int kMaxKeysPerCall = 1000;
constexpr uint64_t kMaxMessageBytes = 4 << 20;

struct PeerServer {
  PeerServer()
      : service([this](std::string_view name) { return cluster.Find(name); }, kMaxKeysPerCall,
                kMaxMessageBytes) {
    server = StartGrpcServer(&service, kMaxMessageBytes);
    FUZZ_CHECK(server != nullptr);
    stub = std::make_unique<grpc::GenericStub>(server->InProcessChannel(grpc::ChannelArguments()));
  }
  fuzz::FakeCluster cluster;
  PeerService service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<grpc::GenericStub> stub;
};

// The answer to a request that parses, under a long deadline.
void CheckAnswer(int method, std::string_view bytes, const fuzz::CallResult& r) {
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
  fuzz::InputReader in(data, size);
  fuzz::TargetCall c =
      fuzz::MakeCall<pb::GetRequest, pb::GetBatchRequest, pb::SetRequest, pb::DeleteRequest,
                     pb::DropHotRequest, pb::AdvanceGenerationRequest>(
          server->stub.get(), "/podcache.peer.v1.Peer/",
          {"Get", "GetBatch", "Set", "Delete", "DropHot", "AdvanceGeneration"}, &in,
          [](fuzz::InputReader*, auto*) {});  // peers send no metadata
  if (!c.long_deadline) return 0;
  fuzz::CheckStatus(c);
  if (c.parses) CheckAnswer(c.method, c.request, c.result);
  return 0;
}
