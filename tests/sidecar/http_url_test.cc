#include "sidecar/http_url.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <utility>

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
  auto why = [](std::string_view url) {
    StatusOr<HttpLoaderUrl> u = ParseHttpLoaderUrl(url);
    REQUIRE_FALSE(u.ok());
    CHECK(u.status().code() == StatusCode::kInvalidArgument);
    return u.status().message();
  };
  CHECK(why("ftp://h/{key}") == "loader URL \"ftp://h/{key}\": not http:// or https://");
  CHECK(why("http:///{key}") == "loader URL \"http:///{key}\": no host");
  CHECK(why("http://:80/{key}") == "loader URL \"http://:80/{key}\": no host");
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"http://h:0/{key}", "port is not a number from 1 to 65535"},
      {"http://h:65536/{key}", "port is not a number"},
      {"http://h:/{key}", "port is not a number"},
      {"http://h:8x/{key}", "port is not a number"},
      {"http://u:p@h/{key}", "user info is not supported"},
      {"http://{key}.h/", "may only appear in the path"},
      {"http://h/a b/{key}", "space or a control character"},
      {"http://h/\r\nX: y/{key}", "space or a control character"},
      {"http://h%41/{key}", "malformed host"},
      {"http://[::1/{key}", "unterminated"},
      {"http://[::1]x/{key}", "malformed host"},
      {"http://[zz]/{key}", "malformed IPv6 address"},
  };
  for (auto [url, fragment] : cases) {
    CHECK_MESSAGE(why(url).find(fragment) != std::string::npos, std::string(url));
  }
}

}  // namespace
}  // namespace podcache
