// podcachectl: the operator's command line for a podcache sidecar.
//
// Key commands talk to the app API (--addr); ring and owner read /debug/ring (--http).
// Exit codes, for scripts: 0 success; 1 the key or keyspace does not exist; 2 bad usage or
// INVALID_ARGUMENT; 3 any other failure (sidecar unreachable, not serving, timeout, ...).
#include <cpprest/http_client.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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
    case podcache::v1::SOURCE_STALE:
      return "stale";
    default:
      return "none";
  }
}

// The options every subcommand shares.
struct Globals {
  std::string addr = "127.0.0.1:7070";
  std::string http_addr = "127.0.0.1:7072";
  std::string token;
  std::string timeout = "5s";
  bool verbose = false;
  podcache::Millis timeout_ms = 0;  // --timeout, parsed
};

// The positional arguments and options of the subcommands.
struct Args {
  std::string keyspace, key, value, ttl;
  std::vector<std::string> owner_keys;
};

// The sidecar's /debug/ring as JSON, or an exit code (with the reason on stderr).
int FetchRing(const Globals& g, nlohmann::json* ring) {
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::milliseconds(g.timeout_ms));
    web::http::client::http_client client("http://" + g.http_addr, config);
    auto response = client.request(web::http::methods::GET, "/debug/ring").get();
    if (response.status_code() != 200) {
      std::cerr << "podcachectl: /debug/ring answered HTTP " << response.status_code() << "\n";
      return kFailed;
    }
    *ring = nlohmann::json::parse(response.extract_utf8string(true).get());
    return kOk;
  } catch (const std::exception& e) {
    std::cerr << "podcachectl: cannot read http://" << g.http_addr << "/debug/ring: " << e.what()
              << "\n";
    return kFailed;
  }
}

// The ring and how the node sees each member: one line per member, this node's marked "self".
int RunRing(const Globals& g) {
  nlohmann::json j;
  if (int code = FetchRing(g, &j); code != kOk) return code;
  std::string self = j.value("self", "");
  std::printf("self %s  fingerprint %s  vnodes %d  changes %llu\n", self.c_str(),
              j.value("fingerprint", "").c_str(), j.value("vnodes", 0),
              static_cast<unsigned long long>(j.value("changes", uint64_t{0})));
  std::map<std::string, nlohmann::json> peers;
  if (j.contains("peers")) {
    for (const auto& p : j["peers"]) peers[p.value("member", "")] = p;
  }
  size_t width = 6;
  for (const auto& m : j["members"]) width = std::max(width, m.get<std::string>().size());
  std::printf("%-*s  %-8s %8s %15s %8s %9s\n", static_cast<int>(width), "MEMBER", "STATE",
              "FAILURES", "EJECTED_MS_LEFT", "P99_MS", "EJECTIONS");
  for (const auto& m : j["members"]) {
    std::string member = m.get<std::string>();
    auto it = peers.find(member);
    if (member == self || it == peers.end()) {
      std::printf("%-*s  %-8s %8s %15s %8s %9s\n", static_cast<int>(width), member.c_str(),
                  member == self ? "self" : "-", "-", "-", "-", "-");
      continue;
    }
    const nlohmann::json& p = it->second;
    std::printf("%-*s  %-8s %8d %15lld %8lld %9llu\n", static_cast<int>(width), member.c_str(),
                p.value("state", "").c_str(), p.value("failures", 0),
                static_cast<long long>(p.value("ejected_ms_left", int64_t{0})),
                static_cast<long long>(p.value("latency_p99_ms", int64_t{0})),
                static_cast<unsigned long long>(p.value("ejections", uint64_t{0})));
  }
  return kOk;
}

int RunOwner(const Globals& g, const std::vector<std::string>& keys) {
  nlohmann::json j;
  if (int code = FetchRing(g, &j); code != kOk) return code;
  // The same ring the sidecar built: same members, same vnodes, same hash.
  auto r =
      podcache::Ring::Build(j["members"].get<std::vector<std::string>>(), j["vnodes"].get<int>());
  for (const std::string& key : keys) {
    std::cout << (keys.size() > 1 ? key + " " : "") << r->OwnerOfKey(key) << "\n";
  }
  return kOk;
}

// The channel and the context (deadline, token) of one call of the sidecar.
struct Channel {
  explicit Channel(const Globals& g)
      : channel(grpc::CreateChannel(g.addr, grpc::InsecureChannelCredentials())) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(g.timeout_ms));
    if (!g.token.empty()) ctx.AddMetadata("authorization", "Bearer " + g.token);
  }
  std::shared_ptr<grpc::Channel> channel;
  grpc::ClientContext ctx;
};

using Stub = podcache::v1::Cache::Stub;

// Calls `method` of the app API with `req`; `on_ok` gets the response of a call that succeeded.
// Returns the exit code of the call's status (printed when it failed).
template <typename Response, typename Request, typename OnOk>
int CallApi(const Globals& g, const Request& req,
            grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
            OnOk on_ok) {
  Channel c(g);
  auto stub = podcache::v1::Cache::NewStub(c.channel);
  Response resp;
  grpc::Status s = (stub.get()->*method)(&c.ctx, req, &resp);
  if (s.ok()) on_ok(resp);
  return Report(s);
}

template <typename Request>
Request KeyRequest(const Args& a) {
  Request req;
  req.set_keyspace(a.keyspace);
  req.set_key(a.key);
  return req;
}

int RunGet(const Globals& g, const Args& a) {
  auto start = std::chrono::steady_clock::now();
  return CallApi(
      g, KeyRequest<podcache::v1::GetRequest>(a), &Stub::Get,
      [&](const podcache::v1::GetResponse& resp) {
        std::fwrite(resp.value().data(), 1, resp.value().size(), stdout);
        std::fflush(stdout);
        std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
        if (g.verbose) {
          std::fprintf(stderr, "source=%s ttl_ms=%lld took_ms=%.3f\n", SourceName(resp.source()),
                       static_cast<long long>(resp.ttl_ms()), took.count());
        }
      });
}

// With -v, how far a write's propagation got before the owner answered (stderr, as -v's other
// lines).
template <typename Response>
std::function<void(const Response&)> PrintWriteAcks(const Globals& g) {
  return [verbose = g.verbose](const Response& resp) {
    if (verbose) {
      std::cerr << "members_acked=" << resp.members_acked()
                << " members_pending=" << resp.members_pending() << "\n";
    }
  };
}

int RunSet(const Globals& g, const Args& a) {
  auto req = KeyRequest<podcache::v1::SetRequest>(a);
  if (a.value == "-") {
    req.set_value(std::string(std::istreambuf_iterator<char>(std::cin), {}));
  } else {
    req.set_value(a.value);
  }
  if (!a.ttl.empty()) {
    auto t = podcache::ParseDuration(a.ttl);
    if (!t.ok()) {
      std::cerr << "podcachectl: --ttl: " << t.status().message() << "\n";
      return kUsage;
    }
    req.set_ttl_ms(t.value());
  }
  return CallApi(g, req, &Stub::Set, PrintWriteAcks<podcache::v1::SetResponse>(g));
}

int RunDel(const Globals& g, const Args& a) {
  return CallApi(g, KeyRequest<podcache::v1::DeleteRequest>(a), &Stub::Delete,
                 PrintWriteAcks<podcache::v1::DeleteResponse>(g));
}

int RunInvalidate(const Globals& g, const Args& a) {
  podcache::v1::InvalidateKeyspaceRequest req;
  req.set_keyspace(a.keyspace);
  return CallApi(g, req, &Stub::InvalidateKeyspace,
                 [print_acks = PrintWriteAcks<podcache::v1::InvalidateKeyspaceResponse>(g)](
                     const podcache::v1::InvalidateKeyspaceResponse& resp) {
                   std::cout << "generation " << resp.generation() << "\n";
                   print_acks(resp);
                 });
}

void PrintStats(const podcache::v1::StatsResponse& resp) {
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
}

int RunStats(const Globals& g, const Args& a) {
  podcache::v1::StatsRequest req;
  req.set_keyspace(a.keyspace);
  return CallApi(g, req, &Stub::Stats, PrintStats);
}

int RunHealth(const Globals& g) {
  Channel c(g);
  auto stub = grpc::health::v1::Health::NewStub(c.channel);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&c.ctx, req, &resp);
  if (!s.ok()) return Report(s);
  bool serving = resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  std::cout << (serving ? "SERVING" : "NOT_SERVING") << "\n";
  return serving ? kOk : kFailed;
}

// A subcommand: its CLI11 object and what runs when it was given.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

// Declares the subcommands on `app`, their arguments bound to `a`.
std::vector<Command> AddCommands(CLI::App* app, const Globals& g, Args* a) {
  auto keyspace_and_key = [a](CLI::App* sub) {
    sub->add_option("keyspace", a->keyspace)->required();
    sub->add_option("key", a->key)->required();
    return sub;
  };
  std::vector<Command> commands;
  auto add = [&](CLI::App* sub, std::function<int()> run) {
    commands.push_back({sub, std::move(run)});
    return sub;
  };
  add(keyspace_and_key(app->add_subcommand("get", "Print a key's value to stdout")),
      [&g, a] { return RunGet(g, *a); });
  auto* set = add(keyspace_and_key(app->add_subcommand(
                      "set", "Store a value (read from stdin when VALUE is -)")),
                  [&g, a] { return RunSet(g, *a); });
  set->add_option("value", a->value)->required();
  set->add_option("--ttl", a->ttl, "Time to live, e.g. 30s or 5m (default: the keyspace's)");
  add(keyspace_and_key(app->add_subcommand("del", "Delete a key")),
      [&g, a] { return RunDel(g, *a); });
  add(app->add_subcommand("invalidate", "Invalidate a whole keyspace"),
      [&g, a] { return RunInvalidate(g, *a); })
      ->add_option("keyspace", a->keyspace)
      ->required();
  add(app->add_subcommand("stats", "Print stats (one keyspace or all) as text"), [&g, a] {
    return RunStats(g, *a);
  })->add_option("keyspace", a->keyspace);
  add(app->add_subcommand("health", "Exit 0 when the sidecar is SERVING"),
      [&g] { return RunHealth(g); });
  add(app->add_subcommand(
          "ring",
          "Print the sidecar's ring and how it sees each member (state, failures, ejection, p99)"),
      [&g] { return RunRing(g); });
  add(app->add_subcommand("owner", "Print the member that owns each KEY"),
      [&g, a] { return RunOwner(g, a->owner_keys); })
      ->add_option("keys", a->owner_keys)
      ->required();
  return commands;
}

void AddGlobalOptions(CLI::App* app, Globals* g) {
  app->add_option("--addr", g->addr, "Sidecar API address: host:port or unix:/path")
      ->envname("PODCACHE_ADDR")
      ->capture_default_str();
  app->add_option("--http", g->http_addr, "Sidecar HTTP address (for ring and owner)")
      ->envname("PODCACHE_HTTP_ADDR")
      ->capture_default_str();
  app->add_option("--token", g->token, "Bearer token, if the sidecar requires one")
      ->envname("PODCACHE_API_TOKEN");
  app->add_option("--timeout", g->timeout, "Deadline of the call")->capture_default_str();
  app->add_flag("-v,--verbose", g->verbose, "Print source, TTL and latency to stderr");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "podcachectl: get, set, delete and inspect keys of a podcache sidecar.\n"
      "Exit codes: 0 ok, 1 not found, 2 bad usage or argument, 3 other failure.",
      "podcachectl"};
  Globals globals;
  Args args;
  AddGlobalOptions(&app, &globals);
  std::vector<Command> commands = AddCommands(&app, globals, &args);
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  auto timeout_ms = podcache::ParseDuration(globals.timeout);
  if (!timeout_ms.ok()) {
    std::cerr << "podcachectl: --timeout: " << timeout_ms.status().message() << "\n";
    return kUsage;
  }
  globals.timeout_ms = timeout_ms.value();
  for (const Command& c : commands) {
    if (*c.app) return c.run();
  }
  return kUsage;
}
