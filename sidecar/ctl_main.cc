// podcachectl: the operator's command line for a podcache sidecar.
//
// Key commands talk to the app API (--addr); ring and owner read /debug/ring (--http).
// Exit codes, for scripts: 0 success; 1 the key or keyspace does not exist; 2 bad usage or
// INVALID_ARGUMENT; 3 any other failure (sidecar unreachable, not serving, timeout, ...).
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include <cpprest/http_client.h>

#include <nlohmann/json.hpp>

#include "core/ring.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "podcache/v1/cache.grpc.pb.h"
#include "sidecar/units.h"

namespace {

constexpr int kOk = 0, kNotFound = 1, kUsage = 2, kFailed = 3;

int ExitCode(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return kOk;
    case grpc::StatusCode::NOT_FOUND:
      return kNotFound;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return kUsage;
    default:
      return kFailed;
  }
}

int Report(const grpc::Status& s) {
  if (!s.ok()) {
    std::cerr << "podcachectl: " << s.error_code() << " " << s.error_message() << "\n";
  }
  return ExitCode(s);
}

const char* SourceName(podcache::v1::Source s) {
  switch (s) {
    case podcache::v1::SOURCE_MAIN:
      return "main";
    case podcache::v1::SOURCE_HOT:
      return "hot";
    case podcache::v1::SOURCE_PEER:
      return "peer";
    case podcache::v1::SOURCE_LOADER:
      return "loader";
    default:
      return "none";
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"podcachectl: get, set, delete and inspect keys of a podcache sidecar.\n"
               "Exit codes: 0 ok, 1 not found, 2 bad usage or argument, 3 other failure.",
               "podcachectl"};
  std::string addr = "127.0.0.1:7070", http_addr = "127.0.0.1:7072", token, timeout = "5s";
  bool verbose = false;
  app.add_option("--addr", addr, "Sidecar API address: host:port or unix:/path")
      ->envname("PODCACHE_ADDR")
      ->capture_default_str();
  app.add_option("--http", http_addr, "Sidecar HTTP address (for ring and owner)")
      ->envname("PODCACHE_HTTP_ADDR")
      ->capture_default_str();
  app.add_option("--token", token, "Bearer token, if the sidecar requires one")
      ->envname("PODCACHE_API_TOKEN");
  app.add_option("--timeout", timeout, "Deadline of the call")->capture_default_str();
  app.add_flag("-v,--verbose", verbose, "Print source, TTL and latency to stderr");
  app.require_subcommand(1);

  std::string keyspace, key, value, ttl;
  auto* get = app.add_subcommand("get", "Print a key's value to stdout");
  get->add_option("keyspace", keyspace)->required();
  get->add_option("key", key)->required();
  auto* set = app.add_subcommand("set", "Store a value (read from stdin when VALUE is -)");
  set->add_option("keyspace", keyspace)->required();
  set->add_option("key", key)->required();
  set->add_option("value", value)->required();
  set->add_option("--ttl", ttl, "Time to live, e.g. 30s or 5m (default: the keyspace's)");
  auto* del = app.add_subcommand("del", "Delete a key");
  del->add_option("keyspace", keyspace)->required();
  del->add_option("key", key)->required();
  auto* invalidate = app.add_subcommand("invalidate", "Invalidate a whole keyspace");
  invalidate->add_option("keyspace", keyspace)->required();
  auto* stats = app.add_subcommand("stats", "Print stats (one keyspace or all) as text");
  stats->add_option("keyspace", keyspace);
  auto* health = app.add_subcommand("health", "Exit 0 when the sidecar is SERVING");
  auto* ring = app.add_subcommand("ring", "Print the sidecar's ring (members, fingerprint)");
  std::vector<std::string> owner_keys;
  auto* owner = app.add_subcommand("owner", "Print the member that owns each KEY");
  owner->add_option("keys", owner_keys)->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  auto timeout_ms = podcache::ParseDuration(timeout);
  if (!timeout_ms.ok()) {
    std::cerr << "podcachectl: --timeout: " << timeout_ms.status().message() << "\n";
    return kUsage;
  }
  if (*ring || *owner) {
    nlohmann::json j;
    try {
      web::http::client::http_client_config config;
      config.set_timeout(std::chrono::milliseconds(timeout_ms.value()));
      web::http::client::http_client client("http://" + http_addr, config);
      auto response = client.request(web::http::methods::GET, "/debug/ring").get();
      if (response.status_code() != 200) {
        std::cerr << "podcachectl: /debug/ring answered HTTP " << response.status_code() << "\n";
        return kFailed;
      }
      j = nlohmann::json::parse(response.extract_utf8string(true).get());
    } catch (const std::exception& e) {
      std::cerr << "podcachectl: cannot read http://" << http_addr << "/debug/ring: " << e.what()
                << "\n";
      return kFailed;
    }
    if (*ring) {
      std::cout << j.dump(2) << "\n";
      return kOk;
    }
    // The same ring the sidecar built: same members, same vnodes, same hash.
    auto r = podcache::Ring::Build(j["members"].get<std::vector<std::string>>(),
                                   j["vnodes"].get<int>());
    for (const std::string& key : owner_keys) {
      std::cout << (owner_keys.size() > 1 ? key + " " : "") << r->OwnerOfKey(key) << "\n";
    }
    return kOk;
  }
  auto channel = grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(timeout_ms.value()));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  auto stub = podcache::v1::Cache::NewStub(channel);
  auto start = std::chrono::steady_clock::now();
  auto took_ms = [&start] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
  };

  if (*get) {
    podcache::v1::GetRequest req;
    podcache::v1::GetResponse resp;
    req.set_keyspace(keyspace);
    req.set_key(key);
    grpc::Status s = stub->Get(&ctx, req, &resp);
    if (s.ok()) {
      std::fwrite(resp.value().data(), 1, resp.value().size(), stdout);
      std::fflush(stdout);
      if (verbose) {
        std::fprintf(stderr, "source=%s ttl_ms=%lld took_ms=%.3f\n", SourceName(resp.source()),
                     static_cast<long long>(resp.ttl_ms()), took_ms());
      }
    }
    return Report(s);
  }
  if (*set) {
    podcache::v1::SetRequest req;
    req.set_keyspace(keyspace);
    req.set_key(key);
    if (value == "-") {
      req.set_value(std::string(std::istreambuf_iterator<char>(std::cin), {}));
    } else {
      req.set_value(value);
    }
    if (!ttl.empty()) {
      auto t = podcache::ParseDuration(ttl);
      if (!t.ok()) {
        std::cerr << "podcachectl: --ttl: " << t.status().message() << "\n";
        return kUsage;
      }
      req.set_ttl_ms(t.value());
    }
    podcache::v1::SetResponse resp;
    return Report(stub->Set(&ctx, req, &resp));
  }
  if (*del) {
    podcache::v1::DeleteRequest req;
    req.set_keyspace(keyspace);
    req.set_key(key);
    podcache::v1::DeleteResponse resp;
    return Report(stub->Delete(&ctx, req, &resp));
  }
  if (*invalidate) {
    podcache::v1::InvalidateKeyspaceRequest req;
    req.set_keyspace(keyspace);
    podcache::v1::InvalidateKeyspaceResponse resp;
    grpc::Status s = stub->InvalidateKeyspace(&ctx, req, &resp);
    if (s.ok()) std::cout << "generation " << resp.generation() << "\n";
    return Report(s);
  }
  if (*stats) {
    podcache::v1::StatsRequest req;
    req.set_keyspace(keyspace);
    podcache::v1::StatsResponse resp;
    grpc::Status s = stub->Stats(&ctx, req, &resp);
    for (const auto& ks : resp.keyspaces()) {
      std::cout << ks.name() << " generation=" << ks.generation() << "\n";
      for (const auto* store : {&ks.main(), &ks.hot()}) {
        std::cout << "  " << (store == &ks.main() ? "main" : "hot ") << " items=" << store->items()
                  << " bytes=" << store->bytes() << "/" << store->capacity_bytes()
                  << " hits=" << store->hits() << " misses=" << store->misses()
                  << " evictions=" << store->evictions() << "\n";
      }
      std::map<std::string, uint64_t> sorted(ks.counters().begin(), ks.counters().end());
      for (const auto& [name, v] : sorted) std::cout << "  " << name << "=" << v << "\n";
    }
    return Report(s);
  }
  if (*health) {
    auto hstub = grpc::health::v1::Health::NewStub(channel);
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = hstub->Check(&ctx, req, &resp);
    if (!s.ok()) return Report(s);
    bool serving = resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
    std::cout << (serving ? "SERVING" : "NOT_SERVING") << "\n";
    return serving ? kOk : kFailed;
  }
  return kUsage;
}
