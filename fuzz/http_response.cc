// libFuzzer target: the HTTP loader's response parser (sidecar/http_response_parser.h) on any
// bytes. Input: byte 0 picks the limits, byte 1 how the response is cut and whether the
// connection closes after it, the rest is the response as it comes from the socket.
// Checks, besides the sanitizers: fed in one piece, byte by byte and cut every N bytes the parser
// ends the same (result, status, error, headers, body, bytes used); the body never exceeds its
// limit; a finished response parses alike when fed alone; nothing changes after the end; its
// Cache-Control gives a TTL and stale windows within their bounds (sidecar/loaders.h).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/keyspace_options.h"
#include "sidecar/http_response_parser.h"
#include "sidecar/loaders.h"

namespace {

using podcache::HttpResponseLimits;
using podcache::HttpResponseParser;
using podcache::StatusCode;
using Result = HttpResponseParser::Result;

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_response invariant broken: %s\n", what);
    std::abort();
  }
}

struct Ended {
  Result result;
  StatusCode code;
  std::string message;
  bool head_complete;
  int status;
  bool keep_alive;
  bool has_cache_control;
  std::string cache_control;
  std::string body;
  uint64_t consumed;
  bool operator==(const Ended&) const = default;
};

// Feeds `input` in pieces of `step` bytes (0: one piece), then EOF if `eof`.
Ended Feed(std::string_view input, size_t step, bool eof, const HttpResponseLimits& limits) {
  HttpResponseParser p(limits);
  if (step == 0) step = input.size() + 1;
  for (size_t at = 0; at < input.size(); at += step) {
    size_t used = 0;
    std::string_view piece = input.substr(at, step);
    Result r = p.Feed(piece, &used);
    Require(used <= piece.size(), "used more than fed");
    Require(r != Result::kNeedMore || used == piece.size(), "needs more but left bytes");
    Require(p.body().size() <= limits.max_body_bytes, "body above its limit");
  }
  if (eof) {
    Require(p.FeedEof() != Result::kNeedMore, "needs more after EOF");
  }
  Ended e{p.result(),      p.error().code(),  p.error().message(),   p.head_complete(),
          p.status_code(), p.keep_alive(),    p.has_cache_control(), p.cache_control(),
          p.body(),        p.bytes_consumed()};
  // Finished: a parser takes nothing more and keeps its result.
  if (e.result != Result::kNeedMore) {
    size_t used = 1;
    Require(p.Feed("HTTP/1.1 200 OK\r\n\r\n", &used) == e.result && used == 0, "fed after end");
    Require(p.FeedEof() == e.result, "EOF after end");
  }
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t limits_byte = data[0];
  const uint8_t cut_byte = data[1];
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  HttpResponseLimits limits;
  limits.max_body_bytes = limits_byte & 0x3f;  // 0..63: small, so the limit is reached often
  if (limits_byte & 0x40) {
    limits.max_head_bytes = 160;
    limits.max_header_fields = 4;
  }
  if (limits_byte & 0x80) {
    limits.max_interim_responses = 2;
    limits.max_chunk_line_bytes = 24;
  }
  const size_t step = 2 + (cut_byte & 0x0f);  // 2..17
  const bool eof = (cut_byte & 0x10) != 0;

  Ended whole = Feed(input, 0, eof, limits);
  Require(Feed(input, 1, eof, limits) == whole, "byte by byte differs from one piece");
  Require(Feed(input, step, eof, limits) == whole, "cut every N bytes differs from one piece");

  Require(whole.consumed <= input.size(), "consumed more than the input");
  Require(whole.body.size() <= limits.max_body_bytes, "body above its limit");
  switch (whole.result) {
    case Result::kNeedMore:
      Require(!eof && whole.consumed == input.size(), "stopped early without an end");
      break;
    case Result::kDone: {
      Require(whole.head_complete, "done without a head");
      Require(whole.status == 101 || (whole.status >= 200 && whole.status <= 599), "status");
      // The response alone, without what followed it, ends the same way (a close-delimited body
      // ends with the EOF, so it gets one too).
      Ended alone = Feed(input.substr(0, whole.consumed), 0, eof, limits);
      Require(alone == whole, "the response alone parses differently");
      // What the loader makes of its Cache-Control: a TTL that never means "no expiry", and
      // stale windows within their bound.
      if (whole.has_cache_control) {
        podcache::CacheControl cc = podcache::ParseCacheControl(whole.cache_control);
        Require(cc.ttl_ms == -1 || cc.ttl_ms >= 1, "ttl");
        for (podcache::Millis w : {cc.stale_while_revalidate_ms, cc.stale_if_error_ms}) {
          Require(w >= -1 && w <= podcache::KeyspaceOptions::kMaxStaleWindowMs, "stale window");
        }
      }
      break;
    }
    case Result::kError:
      Require(
          whole.code == StatusCode::kUnavailable || whole.code == StatusCode::kResourceExhausted,
          "error code");
      Require(!whole.message.empty(), "error without a message");
      Require(whole.body.empty() && !whole.keep_alive, "error keeps a body or the connection");
      break;
  }
  return 0;
}
