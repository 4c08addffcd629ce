#include "sidecar/loaders.h"

#include <doctest/doctest.h>

namespace podcache {

TEST_CASE("ExpandUrlTemplate escapes everything but unreserved characters") {
  CHECK(ExpandUrlTemplate("http://h:1/cache/{keyspace}/{key}", "users", "42") ==
        "http://h:1/cache/users/42");
  CHECK(ExpandUrlTemplate("/c/{key}?ks={keyspace}", "a b", "x/y?z&%") ==
        "/c/x%2Fy%3Fz%26%25?ks=a%20b");
  CHECK(ExpandUrlTemplate("/{key}", "", std::string("\x00\xff-_.~", 6)) == "/%00%FF-_.~");
  CHECK(ExpandUrlTemplate("/{key}/{key}", "", "k") == "/k/k");
}

TEST_CASE("TtlFromCacheControl") {
  CHECK(TtlFromCacheControl("max-age=300") == 300000);
  CHECK(TtlFromCacheControl("public, max-age=5") == 5000);
  CHECK(TtlFromCacheControl("max-age=0") == 1);
  CHECK(TtlFromCacheControl("no-store") == 1);
  CHECK(TtlFromCacheControl("private, no-cache") == 1);
  CHECK(TtlFromCacheControl("public") == -1);
  CHECK(TtlFromCacheControl("") == -1);
  CHECK(TtlFromCacheControl("Max-Age=7, Public") == 7000);  // directive names ignore case
  CHECK(TtlFromCacheControl("max-age=\"9\"") == 9000);
  CHECK(TtlFromCacheControl("max-age=3, max-age=999") == 3000);  // the first one counts
  CHECK(TtlFromCacheControl("NO-STORE") == 1);
}

TEST_CASE("ParseCacheControl: RFC 5861 stale-while-revalidate and stale-if-error") {
  CacheControl cc = ParseCacheControl("max-age=60, stale-while-revalidate=30, stale-if-error=600");
  CHECK(cc.ttl_ms == 60000);
  CHECK(cc.stale_while_revalidate_ms == 30000);
  CHECK(cc.stale_if_error_ms == 600000);
  cc = ParseCacheControl("max-age=5");
  CHECK(cc.stale_while_revalidate_ms == -1);  // not said: the keyspace's
  CHECK(cc.stale_if_error_ms == -1);
  cc = ParseCacheControl("Stale-If-Error=\"7\", STALE-WHILE-REVALIDATE=0");
  CHECK(cc.ttl_ms == -1);
  CHECK(cc.stale_if_error_ms == 7000);
  CHECK(cc.stale_while_revalidate_ms == 0);
  // Malformed or negative: no stale serving; the first of each counts.
  cc = ParseCacheControl("stale-if-error=abc, stale-while-revalidate=-3, stale-if-error=9");
  CHECK(cc.stale_if_error_ms == 0);
  CHECK(cc.stale_while_revalidate_ms == 0);
  CHECK(ParseCacheControl("stale-if-error").stale_if_error_ms == 0);
  CHECK(ParseCacheControl("stale-if-error=1e3").stale_if_error_ms == 0);
  // Bounded: at most a week, however large.
  CHECK(ParseCacheControl("stale-if-error=99999999999999999999").stale_if_error_ms ==
        KeyspaceOptions::kMaxStaleWindowMs);
  CHECK(ParseCacheControl("stale-while-revalidate=604801").stale_while_revalidate_ms ==
        KeyspaceOptions::kMaxStaleWindowMs);
  // Directives that forbid serving stale win, wherever they are.
  cc = ParseCacheControl("stale-if-error=60, must-revalidate, max-age=10");
  CHECK(cc.ttl_ms == 10000);
  CHECK(cc.stale_if_error_ms == 0);
  CHECK(cc.stale_while_revalidate_ms == 0);
  CHECK(
      ParseCacheControl("stale-while-revalidate=60, proxy-revalidate").stale_while_revalidate_ms ==
      0);
  cc = ParseCacheControl("stale-if-error=60, no-store");
  CHECK(cc.ttl_ms == 1);
  CHECK(cc.stale_if_error_ms == 0);
}

TEST_CASE("TtlFromCacheControl: hostile max-age values never mean 'never expires'") {
  // Malformed or negative: stale at once (served to the callers waiting now, not again).
  CHECK(TtlFromCacheControl("max-age=abc") == 1);
  CHECK(TtlFromCacheControl("max-age=-3") == 1);
  CHECK(TtlFromCacheControl("max-age=") == 1);
  CHECK(TtlFromCacheControl("max-age=1e9") == 1);
  // Too large to represent: 2^31 seconds, as RFC 9111 says (max_ttl applies on top).
  const Millis kCap = 2147483648LL * 1000;
  CHECK(TtlFromCacheControl("max-age=9223372036854775807") == kCap);   // 2^63-1
  CHECK(TtlFromCacheControl("max-age=18446744073709551617") == kCap);  // 2^64+1
  CHECK(TtlFromCacheControl("max-age=99999999999999999999999999999") == kCap);
  CHECK(TtlFromCacheControl("max-age=2147483648") == kCap);
  CHECK(TtlFromCacheControl("max-age=2147483647") == 2147483647000LL);
}

TEST_CASE("MakeLoader: none is a null loader; http and grpc are built") {
  auto metrics = std::make_shared<CallMetrics>();
  KeyspaceConfig ks;
  ks.options.name = "k";
  CHECK(MakeLoader(ks, metrics).value() == nullptr);
  ks.loader = {LoaderConfig::Kind::kHttp, "http://127.0.0.1:1/{key}", 100, 0};
  CHECK(MakeLoader(ks, metrics).value() != nullptr);
  ks.loader = {LoaderConfig::Kind::kGrpc, "127.0.0.1:1", 100, 0};
  CHECK(MakeLoader(ks, metrics).value() != nullptr);
}

}  // namespace podcache
