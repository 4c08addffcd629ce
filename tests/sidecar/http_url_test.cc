#include "sidecar/http_url.h"

#include <doctest/doctest.h>

namespace podcache {
namespace {

TEST_CASE("ParseHttpLoaderUrl splits scheme, host, port and path") {
  HttpLoaderUrl u = ParseHttpLoaderUrl("http://127.0.0.1:8080/cache/{keyspace}/{key}").value();
  CHECK_FALSE(u.tls);
  CHECK(u.host == "127.0.0.1");
  CHECK(u.port == "8080");
  CHECK(u.host_header == "127.0.0.1:8080");
  CHECK(u.path_template == "/cache/{keyspace}/{key}");

  u = ParseHttpLoaderUrl("https://app.example.com/{key}?ks={keyspace}#fragment").value();
  CHECK(u.tls);
  CHECK(u.host == "app.example.com");
  CHECK(u.port == "443");
  CHECK(u.host_header == "app.example.com");
  CHECK(u.path_template == "/{key}?ks={keyspace}");

  u = ParseHttpLoaderUrl("http://[::1]:9000/{key}").value();
  CHECK(u.host == "::1");
  CHECK(u.port == "9000");
  CHECK(u.host_header == "[::1]:9000");
  CHECK(ParseHttpLoaderUrl("http://h").value().path_template == "/");
  CHECK(ParseHttpLoaderUrl("http://h?k={key}").value().path_template == "/?k={key}");
  CHECK(ParseHttpLoaderUrl("http://h").value().port == "80");
}

TEST_CASE("ParseHttpLoaderUrl refuses what would make a wrong request, naming why") {
  auto why = [](const char* url) {
    StatusOr<HttpLoaderUrl> u = ParseHttpLoaderUrl(url);
    REQUIRE_FALSE(u.ok());
    CHECK(u.status().code() == StatusCode::kInvalidArgument);
    return u.status().message();
  };
  CHECK(why("ftp://h/{key}") == "loader URL \"ftp://h/{key}\": not http:// or https://");
  CHECK(why("http:///{key}") == "loader URL \"http:///{key}\": no host");
  CHECK(why("http://:80/{key}") == "loader URL \"http://:80/{key}\": no host");
  CHECK(why("http://h:0/{key}").find("port is not a number from 1 to 65535") != std::string::npos);
  CHECK(why("http://h:65536/{key}").find("port is not a number") != std::string::npos);
  CHECK(why("http://h:/{key}").find("port is not a number") != std::string::npos);
  CHECK(why("http://h:8x/{key}").find("port is not a number") != std::string::npos);
  CHECK(why("http://u:p@h/{key}").find("user info is not supported") != std::string::npos);
  CHECK(why("http://{key}.h/").find("may only appear in the path") != std::string::npos);
  CHECK(why("http://h/a b/{key}").find("space or a control character") != std::string::npos);
  CHECK(why("http://h/\r\nX: y/{key}").find("space or a control character") != std::string::npos);
  CHECK(why("http://h%41/{key}").find("malformed host") != std::string::npos);
  CHECK(why("http://[::1/{key}").find("unterminated") != std::string::npos);
  CHECK(why("http://[::1]x/{key}").find("malformed host") != std::string::npos);
  CHECK(why("http://[zz]/{key}").find("malformed IPv6 address") != std::string::npos);
}

}  // namespace
}  // namespace podcache
