#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace podcache {

// An HTTP loader's URL template, split.
struct HttpLoaderUrl {
  bool tls = false;           // https://
  std::string host;           // a DNS name or an IP address (IPv6 without brackets)
  std::string port;           // as given, else 80 or 443
  std::string host_header;    // the authority as written in the URL
  std::string path_template;  // from the first '/' on, with {keyspace} and {key}; never empty
};

// Splits `http[s]://host[:port][/path...]`. INVALID_ARGUMENT, naming the problem, for another
// scheme, an empty or malformed host, a bad port, user info, placeholders outside the path, or
// spaces and control characters (they would corrupt the request). The fragment is dropped.
StatusOr<HttpLoaderUrl> ParseHttpLoaderUrl(std::string_view url);

}  // namespace podcache
