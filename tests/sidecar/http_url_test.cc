#include "sidecar/http_url.h"

#include <doctest/doctest.h>

namespace podcache {
namespace {

TEST_CASE("ParseHttpLoaderUrl splits scheme, host, port and path") {
  struct Case {
    const char* url;
    bool tls;
    const char *host, *port, *host_header, *path_template;
  };
  for (const Case& c : {
           Case{"http://127.0.0.1:8080/cache/{keyspace}/{key}", false, "127.0.0.1", "8080",
                "127.0.0.1:8080", "/cache/{keyspace}/{key}"},
           Case{"https://app.example.com/{key}?ks={keyspace}#fragment", true, "app.example.com",
                "443", "app.example.com", "/{key}?ks={keyspace}"},
           Case{"http://[::1]:9000/{key}", false, "::1", "9000", "[::1]:9000", "/{key}"},
           Case{"http://h", false, "h", "80", "h", "/"},
           Case{"http://h?k={key}", false, "h", "80", "h", "/?k={key}"},
       }) {
    CAPTURE(c.url);
    HttpLoaderUrl u = ParseHttpLoaderUrl(c.url).value();
    CHECK(u.tls == c.tls);
    CHECK(u.host == c.host);
    CHECK(u.port == c.port);
    CHECK(u.host_header == c.host_header);
    CHECK(u.path_template == c.path_template);
  }
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
