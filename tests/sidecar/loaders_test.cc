#include <doctest/doctest.h>

#include "sidecar/loaders.h"

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
  CHECK(TtlFromCacheControl("max-age=abc") == -1);
  CHECK(TtlFromCacheControl("max-age=-3") == -1);
  CHECK(TtlFromCacheControl("") == -1);
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
