// Fuzz target: the app API (sidecar/cache_service.h, podcache.v1.Cache), what any local
// process can send to the sidecar. One real gRPC server is built once, in process, serving the
// real CacheService with an API token over real Groups (fuzz/fake_cluster.h); each input is one
// call through server->InProcessChannel, its request sent as raw bytes, since CacheService
// decodes requests itself.
//
// Input: [method][deadline][auth][auth value if auth % 5 == 4: length byte, bytes][request...]
//   method % 6: Get, GetMany, Set, Delete, InvalidateKeyspace, Stats
//   deadline:   5 s or 0-63 ms (fuzz/grpc_call.h)
//   auth % 5:   0 the right "Bearer <token>", 1 none, 2 the right token as "bEaReR   <token>",
//               3 a wrong token, 4 the header value that follows (made printable)
// Checks: every call completes; under the long deadline it ends with its own status, never
// DEADLINE_EXCEEDED; without the token it is UNAUTHENTICATED, with it never; a request that
// does not parse is INVALID_ARGUMENT ("malformed ..."), one that parses never is; an OK answer
// parses and matches its request (a GetMany result per key in order, a source for every value,
// TTLs not negative, Stats sorted and filtered by keyspace).
#include "sidecar/cache_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/log.h"
#include "fuzz/fake_cluster.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/grpc_call.h"
#include "podcache/v1/cache.pb.h"
#include "transport/grpc_util.h"

namespace podcache {
namespace {

using fuzz::IsGrpcCode;
using fuzz::Parse;

constexpr char kToken[] = "fuzz-token";

struct CacheServer {
  CacheServer() {
    for (const auto& [name, group] : cluster.groups) {
      Keyspace ks;
      ks.config.options = group->options();
      ks.group = group;
      keyspaces.emplace(name, std::move(ks));
    }
    ApiLimits limits;
    limits.token = kToken;
    limits.max_keys_per_call = 1000;
    limits.max_message_bytes = 4 << 20;
    service = std::make_unique<CacheService>(&keyspaces, &metrics, limits);
    server = StartGrpcServer(service.get(), limits.max_message_bytes);
    FUZZ_CHECK(server != nullptr);
    stub = std::make_unique<grpc::GenericStub>(server->InProcessChannel(grpc::ChannelArguments()));
  }
  fuzz::FakeCluster cluster;
  KeyspaceMap keyspaces;
  ApiMetrics metrics;
  std::unique_ptr<CacheService> service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<grpc::GenericStub> stub;
};

// The authorization metadata for `auth`, and whether it carries the right token (-1: unknown).
int Authorization(fuzz::InputReader* in, uint8_t auth,
                  std::vector<std::pair<std::string, std::string>>* metadata) {
  std::string token = kToken;
  switch (auth % 5) {
    case 0:
      metadata->emplace_back("authorization", "Bearer " + token);
      return 1;
    case 1:
      return 0;
    case 2:
      metadata->emplace_back("authorization", "bEaReR   " + token);
      return 1;
    case 3:
      metadata->emplace_back("authorization", "Bearer " + token + "x");
      return 0;
    default: {
      std::string value(in->Bytes(in->Byte()));
      // gRPC refuses to send a header value with control or non-ASCII bytes.
      for (char& c : value) {
        if (c < ' ' || c > '~') c = static_cast<char>(' ' + static_cast<unsigned char>(c) % 95);
      }
      metadata->emplace_back("authorization", value);
      return -1;
    }
  }
}

void CheckAnswer(int method, std::string_view bytes, const fuzz::CallResult& r) {
  switch (method) {
    case 0: {
      v1::GetResponse response;
      FUZZ_CHECK(Parse(r.response, &response));
      FUZZ_CHECK(response.source() != v1::SOURCE_UNSPECIFIED && response.ttl_ms() >= 0);
      return;
    }
    case 1: {
      v1::GetManyRequest request;
      v1::GetManyResponse response;
      FUZZ_CHECK(Parse(bytes, &request) && Parse(r.response, &response));
      FUZZ_CHECK(response.results_size() == request.keys_size());
      for (int i = 0; i < response.results_size(); ++i) {
        const v1::KeyResult& result = response.results(i);
        FUZZ_CHECK(result.key() == request.keys(i) && IsGrpcCode(result.code()));
        FUZZ_CHECK(result.ttl_ms() >= 0);
        FUZZ_CHECK((result.code() == 0) == (result.source() != v1::SOURCE_UNSPECIFIED));
        if (result.code() != 0) FUZZ_CHECK(result.value().empty());
      }
      return;
    }
    case 4: {
      v1::InvalidateKeyspaceResponse response;
      FUZZ_CHECK(Parse(r.response, &response) && response.generation() >= 1);
      return;
    }
    case 5: {
      v1::StatsRequest request;
      v1::StatsResponse response;
      FUZZ_CHECK(Parse(bytes, &request) && Parse(r.response, &response));
      FUZZ_CHECK(std::is_sorted(response.keyspaces().begin(), response.keyspaces().end(),
                                [](const auto& a, const auto& b) { return a.name() < b.name(); }));
      FUZZ_CHECK(response.keyspaces_size() == (request.keyspace().empty() ? 2 : 1));
      for (const v1::KeyspaceStats& ks : response.keyspaces()) {
        FUZZ_CHECK(request.keyspace().empty() || ks.name() == request.keyspace());
        FUZZ_CHECK(ks.main().bytes() <= ks.main().capacity_bytes());
      }
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
  static CacheServer* server = &fuzz::FuzzServer<CacheServer>();
  fuzz::InputReader in(data, size);
  int authorized = -1;
  fuzz::TargetCall c =
      fuzz::MakeCall<v1::GetRequest, v1::GetManyRequest, v1::SetRequest, v1::DeleteRequest,
                     v1::InvalidateKeyspaceRequest, v1::StatsRequest>(
          server->stub.get(), "/podcache.v1.Cache/",
          {"Get", "GetMany", "Set", "Delete", "InvalidateKeyspace", "Stats"}, &in,
          [&authorized](fuzz::InputReader* in, auto* metadata) {
            authorized = Authorization(in, in->Byte(), metadata);
          });
  if (!c.long_deadline) return 0;
  grpc::StatusCode code = c.result.status.error_code();
  if (authorized == 0) FUZZ_CHECK(code == grpc::StatusCode::UNAUTHENTICATED);
  if (authorized == 1) FUZZ_CHECK(code != grpc::StatusCode::UNAUTHENTICATED);
  if (code == grpc::StatusCode::UNAUTHENTICATED) return 0;
  fuzz::CheckStatus(c);
  if (c.result.status.ok()) CheckAnswer(c.method, c.request, c.result);
  return 0;
}
