#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "sidecar/config_loader.h"

namespace podcache {
namespace {

std::string WriteFile(const std::string& text) {
  char path[] = "/tmp/podcache-config-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

CommandLine Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "podcache");
  return ParseCommandLine(static_cast<int>(args.size()), args.data());
}

}  // namespace

TEST_CASE("A --keyspace spec sets every field") {
  auto ks = ParseKeyspaceSpec(
      "users:max_bytes=64MiB,ttl=5m,max_ttl=1h,negative_ttl=10s,eviction=lru,hot_share=0.25,"
      "max_key_bytes=128,max_value_bytes=2MiB,load_concurrency=8,load_queue=100,"
      "load_timeout=3s,hot_ttl=30s,hot_promote_hits=5,hot_window=2s,"
      "loader=http://127.0.0.1:8080/cache/{keyspace}/{key},loader_timeout=1s,"
      "loader_max_value_bytes=1MiB");
  REQUIRE(ks.ok());
  const KeyspaceOptions& o = ks.value().options;
  CHECK(o.name == "users");
  CHECK(o.max_bytes == 64u << 20);
  CHECK(o.default_ttl_ms == 300000);
  CHECK(o.max_ttl_ms == 3600000);
  CHECK(o.negative_ttl_ms == 10000);
  CHECK(o.eviction == EvictionPolicy::kLru);
  CHECK(o.hot_share == 0.25);
  CHECK(o.max_key_bytes == 128);
  CHECK(o.max_value_bytes == 2u << 20);
  CHECK(o.load_concurrency == 8);
  CHECK(o.load_queue == 100);
  CHECK(o.load_timeout_ms == 3000);
  CHECK(o.hot_ttl_ms == 30000);
  CHECK(o.hot_promote_hits == 5);
  CHECK(o.hot_window_ms == 2000);
  CHECK(ks.value().loader.kind == LoaderConfig::Kind::kHttp);
  CHECK(ks.value().loader.target == "http://127.0.0.1:8080/cache/{keyspace}/{key}");
  CHECK(ks.value().loader.timeout_ms == 1000);
  CHECK(ks.value().loader.max_value_bytes == 1u << 20);
  auto grpc = ParseKeyspaceSpec("g:loader=grpc://127.0.0.1:9000");
  CHECK(grpc.value().loader.kind == LoaderConfig::Kind::kGrpc);
  CHECK(grpc.value().loader.target == "127.0.0.1:9000");
}

TEST_CASE("Stale and loader breaker fields: parsed, defaulted and validated") {
  auto ks = ParseKeyspaceSpec(
      "users:stale_while_revalidate=30s,stale_if_error=10m,loader_breaker_failures=7,"
      "loader_breaker_time=250ms,loader_breaker_max_time=1m");
  REQUIRE(ks.ok());
  const KeyspaceOptions& o = ks.value().options;
  CHECK(o.stale_while_revalidate_ms == 30000);
  CHECK(o.stale_if_error_ms == 600000);
  CHECK(o.loader_breaker_failures == 7);
  CHECK(o.loader_breaker_time_ms == 250);
  CHECK(o.loader_breaker_max_time_ms == 60000);
  CHECK(o.Validate().ok());
  KeyspaceOptions d = ParseKeyspaceSpec("d").value().options;
  CHECK(d.stale_while_revalidate_ms == 0);
  CHECK(d.stale_if_error_ms == 0);
  CHECK(d.loader_breaker_failures == 5);
  CHECK(d.loader_breaker_time_ms == 1000);
  CHECK(d.loader_breaker_max_time_ms == 30000);
  struct Case {
    const char* spec;
    const char* message;
  };
  for (const Case& t : std::vector<Case>{
           {"u:stale_if_error=8d", "keyspace 'u': stale_if_error must be in [0, 7d]"},
           {"u:stale_while_revalidate=8d",
            "keyspace 'u': stale_while_revalidate must be in [0, 7d]"},
           {"u:loader_breaker_failures=-1",
            "keyspace 'u': loader_breaker_failures must be in [0, 1000000] (0 = no breaker)"},
           {"u:loader_breaker_time=0", "keyspace 'u': loader_breaker_time must be at least 1ms"},
           {"u:loader_breaker_time=2s,loader_breaker_max_time=1s",
            "keyspace 'u': loader_breaker_max_time must be at least loader_breaker_time"},
       }) {
    INFO(t.spec);
    auto parsed = ParseKeyspaceSpec(t.spec);
    REQUIRE(parsed.ok());
    CHECK(parsed.value().options.Validate().message() == t.message);
  }
  CHECK(ParseKeyspaceSpec("u:stale_if_error=soon").status().message().find("stale_if_error") !=
        std::string::npos);
  CHECK(ParseKeyspaceSpec("u:loader_breaker_failures=x")
            .status()
            .message()
            .find("loader_breaker_failures") != std::string::npos);
}

TEST_CASE("A bad --keyspace spec names the keyspace and the field") {
  CHECK(ParseKeyspaceSpec("u:max_bytes=lots").status().message() ==
        "--keyspace u: max_bytes: \"lots\" is not a size (use bytes or a unit: 512KiB, 64MiB, "
        "1GiB, 1GB)");
  CHECK(ParseKeyspaceSpec("u:colour=red").status().message() ==
        "--keyspace u: unknown keyspace field \"colour\"");
  CHECK(ParseKeyspaceSpec("u:ttl").status().message() ==
        "--keyspace u: \"ttl\" is not field=value");
  CHECK(ParseKeyspaceSpec("u:eviction=fifo").status().message().find("eviction") !=
        std::string::npos);
  CHECK(ParseKeyspaceSpec("u:loader=ftp://x").status().message().find("loader") !=
        std::string::npos);
}

TEST_CASE("A YAML file of the shape users write is read, with ${VAR} expansion and units") {
  setenv("PODCACHE_TEST_POD_IP", "10.1.2.3", 1);
  std::string path = WriteFile(R"(
api_listen: 127.0.0.1:7171
http_listen: ${PODCACHE_TEST_POD_IP}:7072
shutdown_grace: 3s
max_message_bytes: 8MiB
keyspaces:
  - name: users
    max_bytes: 256MiB
    default_ttl: 5m
    eviction: s3fifo
    loader: {http: "http://127.0.0.1:8080/cache/{keyspace}/{key}", timeout: 2s}
  - name: sessions
    max_bytes: 16MiB
    loader: none
)");
  Config c;
  REQUIRE(LoadConfigFile(path, &c).ok());
  CHECK(c.api_listen == "127.0.0.1:7171");
  CHECK(c.http_listen == "10.1.2.3:7072");
  CHECK(c.shutdown_grace_ms == 3000);
  CHECK(c.max_message_bytes == 8u << 20);
  REQUIRE(c.keyspaces.size() == 2);
  CHECK(c.keyspaces[0].options.max_bytes == 256u << 20);
  CHECK(c.keyspaces[0].options.eviction == EvictionPolicy::kS3Fifo);
  CHECK(c.keyspaces[0].loader.kind == LoaderConfig::Kind::kHttp);
  CHECK(c.keyspaces[0].loader.timeout_ms == 2000);
  CHECK(c.keyspaces[1].loader.kind == LoaderConfig::Kind::kNone);
  CHECK(c.Validate().ok());
  std::remove(path.c_str());
}

TEST_CASE("Bad YAML files fail with a message naming the field") {
  struct Case {
    const char* yaml;
    const char* message;
  };
  for (const Case& t : std::vector<Case>{
           {"api_listn: x\n", "unknown key \"api_listn\""},
           {"shutdown_grace: soon\n", "shutdown_grace: \"soon\" is not a duration"},
           {"keyspaces: {name: a}\n", "keyspaces: must be a list"},
           {"keyspaces:\n  - max_bytes: 1MiB\n", "keyspaces[0]: name is missing"},
           {"keyspaces:\n  - name: a\n    max_bytes: 12XB\n", "keyspaces[a]: max_bytes: \"12XB\""},
           {"keyspaces:\n  - name: a\n    loader: {http: \"http://h/{key}\", retries: 3}\n",
            "unknown loader field \"retries\""},
           {"keyspaces: [\n", "yaml"},
       }) {
    INFO(t.yaml);
    std::string path = WriteFile(t.yaml);
    Config c;
    Status s = LoadConfigFile(path, &c);
    CHECK(!s.ok());
    if (std::string(t.message) != "yaml") CHECK(s.message().find(t.message) != std::string::npos);
    CHECK(s.message().find(path) == 0);
    std::remove(path.c_str());
  }
}

TEST_CASE("Validate names the option") {
  Config c;
  CHECK(c.Validate().message().find("no keyspaces") != std::string::npos);
  c.keyspaces.push_back(ParseKeyspaceSpec("a").value());
  CHECK(c.Validate().ok());
  c.api_listen = "0.0.0.0:7070";
  CHECK(c.Validate().message().find("api_allow_remote") != std::string::npos);
  c.api_allow_remote = true;
  CHECK(c.Validate().ok());
  c.keyspaces.push_back(ParseKeyspaceSpec("a").value());
  CHECK(c.Validate().message() == "keyspaces[a]: declared twice");
  c.keyspaces.pop_back();
  c.keyspaces[0].options.max_bytes = 1u << 30;
  c.keyspaces[0].options.max_value_bytes = 32u << 20;
  CHECK(c.Validate().message().find("does not fit in max_message_bytes") != std::string::npos);
  c.keyspaces[0].options.max_value_bytes = 1024;
  c.keyspaces[0].loader = {LoaderConfig::Kind::kHttp, "http://x/none", 1000, 0};
  CHECK(c.Validate().message().find("no {key} placeholder") != std::string::npos);
  c.keyspaces[0].loader.target = "http://x:99999/{key}";
  CHECK(c.Validate().message() ==
        "keyspaces[a]: loader URL \"http://x:99999/{key}\": port is not a number from 1 to 65535");
  c.keyspaces[0].loader.target = "http://x/{key}";
  c.log_level = "loud";
  CHECK(c.Validate().message().find("log_level") != std::string::npos);
}

TEST_CASE("Flags override the environment which overrides the file") {
  std::string path = WriteFile(
      "api_listen: 127.0.0.1:1001\nhttp_listen: 127.0.0.1:1002\nlog_level: warn\n"
      "keyspaces:\n  - name: a\n    max_bytes: 1MiB\n");
  setenv("PODCACHE_HTTP_LISTEN", "127.0.0.1:2002", 1);
  setenv("PODCACHE_LOG_LEVEL", "debug", 1);
  CommandLine cl = Parse({"--config", path.c_str(), "--log-level", "error", "--keyspace",
                          "a:max_bytes=8MiB", "--keyspace", "b", "--api-allow-remote"});
  unsetenv("PODCACHE_HTTP_LISTEN");
  unsetenv("PODCACHE_LOG_LEVEL");
  REQUIRE(!cl.exit);
  CHECK(cl.config.api_listen == "127.0.0.1:1001");   // file
  CHECK(cl.config.http_listen == "127.0.0.1:2002");  // env over file
  CHECK(cl.config.log_level == "error");             // flag over env
  CHECK(cl.config.api_allow_remote);                 // a bare bool flag
  REQUIRE(cl.config.keyspaces.size() == 2);
  CHECK(cl.config.keyspaces[0].options.name == "a");
  CHECK(cl.config.keyspaces[0].options.max_bytes == 8u << 20);  // --keyspace replaces the file's
  std::remove(path.c_str());
}

TEST_CASE("peer_hedge_delay is auto, a duration or 0 (off); fallback_ttl is a keyspace duration") {
  CommandLine d = Parse({"--keyspace", "a"});
  REQUIRE(!d.exit);
  CHECK(d.config.peer_hedge_delay_ms == Config::kAutoHedgeDelay);
  CHECK(d.config.keyspaces[0].options.fallback_ttl_ms == 1000);
  CHECK(Parse({"--keyspace", "a", "--peer-hedge-delay", "15ms"}).config.peer_hedge_delay_ms == 15);
  CHECK(Parse({"--keyspace", "a", "--peer-hedge-delay", "0"}).config.peer_hedge_delay_ms == 0);
  CHECK(Parse({"--keyspace", "a", "--peer-hedge-delay", "auto"}).config.peer_hedge_delay_ms ==
        Config::kAutoHedgeDelay);
  CHECK(Parse({"--keyspace", "a", "--peer-hedge-delay", "soon"}).exit_code == 2);
  std::string path =
      WriteFile("peer_hedge_delay: 30ms\nkeyspaces:\n  - name: a\n    fallback_ttl: 250ms\n");
  CommandLine f = Parse({"--config", path.c_str()});
  std::remove(path.c_str());
  REQUIRE(!f.exit);
  CHECK(f.config.peer_hedge_delay_ms == 30);
  CHECK(f.config.keyspaces[0].options.fallback_ttl_ms == 250);
  CHECK(ParseKeyspaceSpec("u:fallback_ttl=0").value().options.fallback_ttl_ms == 0);
  CHECK(ParseKeyspaceSpec("u:fallback_ttl=never").status().message().find("fallback_ttl") !=
        std::string::npos);
  KeyspaceOptions o;
  o.name = "u";
  o.fallback_ttl_ms = -1;
  CHECK(o.Validate().message() == "keyspace 'u': fallback_ttl must not be negative");
  Config c;
  c.keyspaces.push_back(ParseKeyspaceSpec("a").value());
  c.peers = "127.0.0.1:7071";
  c.advertise = "127.0.0.1:7071";
  c.insecure_peers = true;
  REQUIRE(c.Validate().ok());
  c.peer_hedge_delay_ms = -5;
  CHECK(c.Validate().message() == "peer_hedge_delay must be auto, 0 (off) or a duration");
}

TEST_CASE("Configuration errors exit with code 2") {
  CHECK(Parse({"--keyspace", "a:max_bytes=x"}).exit_code == 2);
  CHECK(Parse({"--keyspace", "a", "--shutdown-grace", "later"}).exit_code == 2);
  CHECK(Parse({"--config", "/nonexistent/podcache.yaml"}).exit_code == 2);
  CHECK(Parse({"--no-such-flag"}).exit);
  CHECK(Parse({"--version"}).exit_code == 0);
}

}  // namespace podcache

namespace podcache {

TEST_CASE("Validate checks the nats subject - TLS pair and credential mix") {
  Config c;
  c.keyspaces.push_back(ParseKeyspaceSpec("a").value());
  c.discovery = "nats";
  c.nats_url = "nats://127.0.0.1:4222";
  c.advertise = "10.0.0.1:7071";
  c.insecure_peers = true;
  CHECK(c.Validate().ok());
  CHECK(NatsSubject(c) == "podcache.discovery.podcache");
  c.cluster_name = "prod.*";
  CHECK(c.Validate().message().find("not a literal subject") != std::string::npos);
  c.cluster_name = "prod east";
  CHECK(c.Validate().message().find("not a literal subject") != std::string::npos);
  c.nats_subject = "my.subject";
  CHECK(c.Validate().ok());
  CHECK(NatsSubject(c) == "my.subject");
  c.nats_subject = "my..subject";
  CHECK_FALSE(c.Validate().ok());
  c.nats_subject = "";
  c.cluster_name = "podcache";
  c.nats_tls_cert = "/tls.crt";
  CHECK(c.Validate().message().find("nats_tls_cert and nats_tls_key") != std::string::npos);
  c.nats_tls_key = "/tls.key";
  CHECK(c.Validate().ok());
  c.nats_token = "t";
  c.nats_user = "u";
  CHECK(c.Validate().message().find("nats_token") != std::string::npos);
}

TEST_CASE("An IPv6 advertise from ${POD_IP}:7071 is bracketed") {
  CommandLine cl = Parse({"--keyspace", "users", "--insecure-peers", "--peers", "[fd00::6]:7071",
                          "--advertise", "fd00::5:7071"});
  REQUIRE_FALSE(cl.exit);
  CHECK(cl.config.advertise == "[fd00::5]:7071");
}

}  // namespace podcache

namespace podcache {

TEST_CASE("A broken api token file stops the sidecar instead of turning authentication off") {
  std::string empty = WriteFile("");
  std::string blank = WriteFile(" \n\n");
  std::string big = WriteFile(std::string(kMaxTokenBytes + 1, 'x'));
  std::string spaced = WriteFile("two words\n");
  std::string good = WriteFile("s3cret\n");
  for (const std::string& file :
       {empty, blank, big, spaced, std::string("/tmp"), std::string("/nonexistent/token")}) {
    CommandLine cl = Parse({"--keyspace", "a", "--api-token-file", file.c_str()});
    CHECK(cl.exit);
    CHECK(cl.exit_code == 2);
    CHECK_FALSE(ReadTokenFile(file).ok());
    CHECK(ReadTokenFile(file).status().message().find(file) != std::string::npos);
  }
  // Also with --api-token set: both at once is an error, never "the empty file wins".
  CommandLine both =
      Parse({"--keyspace", "a", "--api-token", "t", "--api-token-file", empty.c_str()});
  CHECK(both.exit_code == 2);
  both = Parse({"--keyspace", "a", "--api-token", "t", "--api-token-file", good.c_str()});
  CHECK(both.exit_code == 2);
  CommandLine ok = Parse({"--keyspace", "a", "--api-token-file", good.c_str()});
  REQUIRE_FALSE(ok.exit);
  CHECK(ok.config.api_token == "s3cret");
  CHECK(Parse({"--keyspace", "a", "--api-token", "has space"}).exit_code == 2);
  for (const std::string& f : {empty, blank, big, spaced, good}) std::remove(f.c_str());
}

TEST_CASE("peer ejection options are read and checked") {
  CommandLine d = Parse({"--keyspace", "a"});
  REQUIRE_FALSE(d.exit);
  CHECK(d.config.peer_eject_failures == 3);
  CHECK(d.config.peer_eject_time_ms == 1000);
  CHECK(d.config.peer_eject_max_time_ms == 10000);
  CommandLine cl = Parse({"--keyspace", "a", "--insecure-peers", "--peers", "10.0.0.2:7071",
                          "--advertise", "10.0.0.1:7071", "--peer-eject-failures", "5",
                          "--peer-eject-time", "250ms", "--peer-eject-max-time", "4s"});
  REQUIRE_FALSE(cl.exit);
  CHECK(cl.config.peer_eject_failures == 5);
  CHECK(cl.config.peer_eject_time_ms == 250);
  CHECK(cl.config.peer_eject_max_time_ms == 4000);
  std::string yaml = WriteFile(
      "peer_eject_failures: 2\npeer_eject_time: 2s\npeer_eject_max_time: 1m\nkeyspaces:\n"
      "  - name: a\n");
  CommandLine file = Parse({"--config", yaml.c_str()});
  REQUIRE_FALSE(file.exit);
  CHECK(file.config.peer_eject_failures == 2);
  CHECK(file.config.peer_eject_time_ms == 2000);
  CHECK(file.config.peer_eject_max_time_ms == 60000);
  std::remove(yaml.c_str());
  Config c = cl.config;
  REQUIRE(c.Validate().ok());
  c.peer_eject_failures = 0;
  CHECK(c.Validate().message() == "peer_eject_failures must be >= 1");
  c.peer_eject_failures = 1;
  c.peer_eject_time_ms = 0;
  CHECK(c.Validate().message() == "peer_eject_time must be > 0");
  c.peer_eject_time_ms = 5000;
  CHECK(c.Validate().message() == "peer_eject_max_time must be >= peer_eject_time");
}

TEST_CASE("max_message_bytes and max_keys_per_call are range-checked") {
  for (const char* bytes : {"2GiB", "4GiB", "3000000000", "1023", "1GiB1"}) {
    CHECK(Parse({"--keyspace", "a", "--max-message-bytes", bytes}).exit_code == 2);
  }
  CommandLine cl = Parse({"--keyspace", "a", "--max-message-bytes", "1GiB"});
  REQUIRE_FALSE(cl.exit);
  CHECK(cl.config.max_message_bytes == 1u << 30);
  CHECK(cl.config.max_keys_per_call == 10000);
  CHECK(Parse({"--keyspace", "a", "--max-keys-per-call", "0"}).exit_code == 2);
  CHECK(Parse({"--keyspace", "a", "--max-keys-per-call", "2000000"}).exit_code == 2);
  CHECK(Parse({"--keyspace", "a", "--max-keys-per-call", "50"}).config.max_keys_per_call == 50);
}

TEST_CASE("write_ack_wait, repair_interval and repair_max_keys: defaults, flags, YAML, ranges") {
  std::vector<std::string> peers = {"--keyspace",  "a",     "--insecure-peers", "--peers", "b:7071",
                                    "--advertise", "a:7071"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = peers;
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    return Parse(argv);
  };
  CommandLine d = with({});
  REQUIRE_FALSE(d.exit);
  CHECK(d.config.write_ack_wait_ms == 50);
  CHECK(d.config.repair_interval_ms == 200);
  CHECK(d.config.repair_max_keys == 10000);
  CommandLine set =
      with({"--write-ack-wait", "0", "--repair-interval", "1s", "--repair-max-keys", "5"});
  REQUIRE_FALSE(set.exit);
  CHECK(set.config.write_ack_wait_ms == 0);
  CHECK(set.config.repair_interval_ms == 1000);
  CHECK(set.config.repair_max_keys == 5);
  for (std::vector<std::string> bad :
       {std::vector<std::string>{"--write-ack-wait", "1s"},  // not below peer_timeout
        {"--write-ack-wait", "-5ms"},
        {"--repair-interval", "1ms"},
        {"--repair-interval", "2m"},
        {"--repair-max-keys", "0"},
        {"--repair-max-keys", "2000000"}}) {
    CHECK(with(bad).exit_code == 2);
  }
  Config c;
  REQUIRE(LoadConfigText("write_ack_wait: 20ms\nrepair_interval: 500ms\nrepair_max_keys: 7\n", &c)
              .ok());
  CHECK(c.write_ack_wait_ms == 20);
  CHECK(c.repair_interval_ms == 500);
  CHECK(c.repair_max_keys == 7);
}

TEST_CASE("Every config file read error is a message, never an exception") {
  Config c;
  Status dir = LoadConfigFile("/tmp", &c);
  CHECK(dir.code() == StatusCode::kInvalidArgument);
  CHECK(dir.message().find("/tmp is not a regular file") != std::string::npos);
  CHECK(Parse({"--config", "/tmp"}).exit_code == 2);
  CHECK(Parse({"--config", "/dev/zero"}).exit_code == 2);
  std::string big = WriteFile(std::string(kMaxConfigFileBytes + 1, '#'));
  CHECK(LoadConfigFile(big, &c).message().find("larger than") != std::string::npos);
  std::remove(big.c_str());
  for (const char* text : {"[", "{a: [}", "keyspaces: {name: a}", "keyspaces:\n  - 7\n",
                           "api_listen: [a, {b: c}]", "\t: x", "? [a]\n: b"}) {
    CHECK_FALSE(LoadConfigText(text, &c).ok());
  }
}

TEST_CASE("Keyspace names are unique: twice in the file or twice in flags is exit 2") {
  CHECK(Parse({"--keyspace", "a:max_bytes=8MiB", "--keyspace", "a:max_bytes=16MiB"}).exit_code ==
        2);
  std::string path = WriteFile("keyspaces:\n  - name: a\n  - name: a\n");
  CHECK(Parse({"--config", path.c_str()}).exit_code == 2);
  // One --keyspace replacing the file's keyspace of that name stays allowed.
  std::string one = WriteFile("keyspaces:\n  - name: a\n    max_bytes: 4MiB\n");
  CommandLine cl = Parse({"--config", one.c_str(), "--keyspace", "a:max_bytes=8MiB"});
  REQUIRE_FALSE(cl.exit);
  CHECK(cl.config.keyspaces.size() == 1);
  std::remove(path.c_str());
  std::remove(one.c_str());
}

TEST_CASE("${VAR} must be set, and ${VAR:-default} gives a default") {
  unsetenv("PODCACHE_TEST_UNSET");
  setenv("PODCACHE_TEST_EMPTY", "", 1);
  setenv("PODCACHE_TEST_SET", "127.0.0.1:9999", 1);
  Config c;
  Status s = LoadConfigText("http_listen: ${PODCACHE_TEST_UNSET}\n", &c);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("${PODCACHE_TEST_UNSET} is not set") != std::string::npos);
  REQUIRE(LoadConfigText("http_listen: ${PODCACHE_TEST_UNSET:-0.0.0.0:7072}\n", &c).ok());
  CHECK(c.http_listen == "0.0.0.0:7072");
  REQUIRE(LoadConfigText("http_listen: ${PODCACHE_TEST_EMPTY:-x:1}\n", &c).ok());
  CHECK(c.http_listen == "x:1");
  REQUIRE(LoadConfigText("http_listen: ${PODCACHE_TEST_SET:-x:1}\n", &c).ok());
  CHECK(c.http_listen == "127.0.0.1:9999");
  CHECK_FALSE(LoadConfigText("http_listen: ${PODCACHE_TEST_SET\n", &c).ok());
  CHECK_FALSE(LoadConfigText("http_listen: ${1X}\n", &c).ok());
  CHECK_FALSE(LoadConfigText("keyspaces:\n  - name: ${PODCACHE_TEST_UNSET}\n", &c).ok());
  unsetenv("PODCACHE_TEST_EMPTY");
  unsetenv("PODCACHE_TEST_SET");
}

TEST_CASE("PODCACHE_KEYSPACE declares several keyspaces") {
  setenv("PODCACHE_KEYSPACE", "a:max_bytes=8MiB; b:max_bytes=4MiB\nc\n", 1);
  CommandLine cl = Parse({});
  unsetenv("PODCACHE_KEYSPACE");
  REQUIRE_FALSE(cl.exit);
  REQUIRE(cl.config.keyspaces.size() == 3);
  CHECK(cl.config.keyspaces[0].options.name == "a");
  CHECK(cl.config.keyspaces[1].options.max_bytes == 4u << 20);
  CHECK(cl.config.keyspaces[2].options.name == "c");
  CHECK(SplitKeyspaceSpecs(" ; \n").empty());
}

TEST_CASE("Validate caps the number of keyspaces and names the default that does not fit") {
  Config c;
  for (size_t i = 0; i <= Config::kMaxKeyspaces; ++i) {
    KeyspaceConfig ks;
    ks.options.name = "k" + std::to_string(i);
    c.keyspaces.push_back(ks);
  }
  CHECK(c.Validate().message().find("at most 1000") != std::string::npos);
  auto small = ParseKeyspaceSpec("small:max_bytes=1MiB");
  REQUIRE(small.ok());
  c.keyspaces = {small.value()};
  Status s = c.Validate();
  CHECK(s.message().find("the default max_value_bytes of 1MiB") != std::string::npos);
  CHECK(s.message().find("set max_value_bytes to 256KiB or less") != std::string::npos);
  c.keyspaces = {ParseKeyspaceSpec("small:max_bytes=1MiB,max_value_bytes=256KiB").value()};
  CHECK(c.Validate().ok());
  c.keyspaces = {ParseKeyspaceSpec("small:max_bytes=1MiB,max_value_bytes=512KiB").value()};
  CHECK(c.Validate().message().find("max_value_bytes must be in [1, max_bytes/4]") !=
        std::string::npos);
}

}  // namespace podcache
