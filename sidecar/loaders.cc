#include "sidecar/loaders.h"

#include <cpprest/base_uri.h>

#include <algorithm>
#include <charconv>
#include <chrono>

#include "core/keyspace_options.h"
#include "core/strings.h"
#include "sidecar/grpc_loader.h"
#include "sidecar/http_loader.h"

namespace podcache {
namespace {

// Records every call's outcome and duration, then hands the result on.
class InstrumentedLoader final : public Loader {
 public:
  InstrumentedLoader(std::unique_ptr<Loader> inner, std::shared_ptr<CallMetrics> metrics)
      : inner_(std::move(inner)), metrics_(metrics) {}

  void Load(std::string_view keyspace, std::string_view key, Millis deadline,
            DoneFn done) override {
    auto start = std::chrono::steady_clock::now();
    inner_->Load(keyspace, key, deadline,
                 [start, metrics = metrics_, done = std::move(done)](StatusOr<Loaded> result) {
                   std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
                   metrics->Record(result.status().code(), took.count());
                   done(std::move(result));
                 });
  }

 private:
  std::unique_ptr<Loader> inner_;
  std::shared_ptr<CallMetrics> metrics_;  // shared: a call may finish after the node stops
};

}  // namespace

std::string ExpandUrlTemplate(std::string_view url_template, std::string_view keyspace,
                              std::string_view key) {
  std::string out;
  size_t i = 0;
  while (i < url_template.size()) {
    if (url_template.substr(i, 5) == "{key}") {
      out += web::uri::encode_data_string(std::string(key));
      i += 5;
    } else if (url_template.substr(i, 10) == "{keyspace}") {
      out += web::uri::encode_data_string(std::string(keyspace));
      i += 10;
    } else {
      out += url_template[i++];
    }
  }
  return out;
}

namespace {

// RFC 9111 1.2.2: a delta-seconds larger than the cache can represent counts as 2^31 seconds.
constexpr long long kMaxAgeCapSeconds = 2147483648LL;

}  // namespace

namespace {

// A delta-seconds argument: its seconds (capped at kMaxAgeCapSeconds), or -1 when malformed or
// negative.
long long DeltaSeconds(std::string_view arg) {
  if (arg.size() >= 2 && arg.front() == '"' && arg.back() == '"')
    arg = arg.substr(1, arg.size() - 2);
  bool digits = !arg.empty();
  for (char c : arg) digits = digits && c >= '0' && c <= '9';
  if (!digits) return -1;
  // Only digits: an out-of-range number is huge, not an error.
  long long secs = kMaxAgeCapSeconds;
  auto [ptr, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), secs);
  if (ec != std::errc() || ptr != arg.data() + arg.size() || secs > kMaxAgeCapSeconds) {
    secs = kMaxAgeCapSeconds;
  }
  return secs;
}

// A stale window's milliseconds from its argument: 0 when malformed, at most a week.
Millis StaleWindowMs(std::string_view arg) {
  long long secs = DeltaSeconds(arg);
  if (secs < 0) return 0;
  return std::min<Millis>(secs * 1000, KeyspaceOptions::kMaxStaleWindowMs);
}

}  // namespace

CacheControl ParseCacheControl(std::string_view header) {
  CacheControl cc;
  bool seen_max_age = false;
  bool no_stale = false;
  size_t pos = 0;
  while (pos < header.size()) {
    size_t comma = header.find(',', pos);
    std::string_view d =
        TrimBlanks(header.substr(pos, comma == std::string_view::npos ? header.npos : comma - pos));
    pos = comma == std::string_view::npos ? header.size() : comma + 1;
    size_t eq = d.find('=');
    std::string_view name = TrimBlanks(d.substr(0, eq));
    std::string_view arg = eq == std::string_view::npos ? "" : TrimBlanks(d.substr(eq + 1));
    if (EqualsIgnoreCase(name, "no-store") || EqualsIgnoreCase(name, "no-cache")) {
      return CacheControl{1, 0, 0};
    }
    if (EqualsIgnoreCase(name, "must-revalidate") || EqualsIgnoreCase(name, "proxy-revalidate")) {
      no_stale = true;
    } else if (EqualsIgnoreCase(name, "stale-while-revalidate")) {
      if (cc.stale_while_revalidate_ms < 0) cc.stale_while_revalidate_ms = StaleWindowMs(arg);
    } else if (EqualsIgnoreCase(name, "stale-if-error")) {
      if (cc.stale_if_error_ms < 0) cc.stale_if_error_ms = StaleWindowMs(arg);
    } else if (EqualsIgnoreCase(name, "max-age") && !seen_max_age) {  // the first max-age counts
      seen_max_age = true;
      long long secs = DeltaSeconds(arg);
      // Malformed or negative: the value is stale at once (RFC 9111 4.2.1).
      cc.ttl_ms = secs <= 0 ? 1 : secs * 1000;
    }
  }
  if (no_stale) cc.stale_while_revalidate_ms = cc.stale_if_error_ms = 0;
  return cc;
}

Millis TtlFromCacheControl(std::string_view header) { return ParseCacheControl(header).ttl_ms; }

StatusOr<std::shared_ptr<Loader>> MakeLoader(const KeyspaceConfig& ks,
                                             std::shared_ptr<CallMetrics> metrics) {
  const LoaderConfig& c = ks.loader;
  uint64_t limit = c.max_value_bytes != 0
                       ? std::min<uint64_t>(c.max_value_bytes, ks.options.max_value_bytes)
                       : ks.options.max_value_bytes;
  std::unique_ptr<Loader> inner;
  try {
    switch (c.kind) {
      case LoaderConfig::Kind::kNone:
        return std::shared_ptr<Loader>();
      case LoaderConfig::Kind::kHttp:
        inner = std::make_unique<HttpLoader>(c.target, c.timeout_ms, limit);
        break;
      case LoaderConfig::Kind::kGrpc:
        inner = std::make_unique<GrpcLoader>(c.target, c.timeout_ms, limit);
        break;
    }
  } catch (const std::exception& e) {
    return InvalidArgumentError("keyspaces[" + ks.options.name + "]: loader " + c.target + ": " +
                                e.what());
  }
  return std::shared_ptr<Loader>(std::make_shared<InstrumentedLoader>(std::move(inner), metrics));
}

}  // namespace podcache
