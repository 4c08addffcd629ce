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
