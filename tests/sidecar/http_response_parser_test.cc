#include "sidecar/http_response_parser.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace podcache {
namespace {

using Result = HttpResponseParser::Result;

// What a parser ended with, comparable between two ways of feeding it.
struct Parsed {
  Result result = Result::kNeedMore;
  Status error;
  bool head_complete = false;
  int status = 0;
  bool keep_alive = false;
  bool has_cache_control = false;
  std::string cache_control;
  std::string body;
  uint64_t consumed = 0;

  bool operator==(const Parsed&) const = default;
};

Parsed Snapshot(const HttpResponseParser& p) {
  return {p.result(),        p.error(),      p.head_complete(),
          p.status_code(),   p.keep_alive(), p.has_cache_control(),
          p.cache_control(), p.body(),       p.bytes_consumed()};
}

// Feeds `input` cut at `cuts` (increasing offsets), then EOF if `eof`.
Parsed FeedPieces(std::string_view input, const std::vector<size_t>& cuts,
                  const HttpResponseLimits& limits, bool eof) {
  HttpResponseParser p(limits);
  size_t from = 0;
  for (size_t i = 0; i <= cuts.size(); ++i) {
    size_t to = i < cuts.size() ? cuts[i] : input.size();
    p.Feed(input.substr(from, to - from));
    from = to;
  }
  if (eof) p.FeedEof();
  return Snapshot(p);
}

// Parses `input` in one piece, byte by byte, and (for short inputs) cut in two at every offset;
// every way must give the same result, which is returned.
Parsed Parse(std::string_view input, const HttpResponseLimits& limits = {}, bool eof = false) {
  Parsed whole = FeedPieces(input, {}, limits, eof);
  std::vector<size_t> every_byte;
  for (size_t i = 1; i < input.size(); ++i) every_byte.push_back(i);
  CHECK(FeedPieces(input, every_byte, limits, eof) == whole);
  if (input.size() <= 600) {
    for (size_t cut = 1; cut < input.size(); ++cut) {
      CAPTURE(cut);
      CHECK(FeedPieces(input, {cut}, limits, eof) == whole);
    }
  }
  return whole;
}

HttpResponseLimits SmallBody(uint64_t max_body_bytes) {
  HttpResponseLimits limits;
  limits.max_body_bytes = max_body_bytes;
  return limits;
}

void CheckMalformed(std::string_view input, std::string_view why) {
  CAPTURE(input);
  Parsed p = Parse(input);
  CHECK(p.result == Result::kError);
  CHECK(p.error.code() == StatusCode::kUnavailable);
  CHECK(p.error.message() == "malformed loader response: " + std::string(why));
  CHECK(p.body.empty());
  CHECK_FALSE(p.keep_alive);
}

void CheckBodyTooLarge(const Parsed& p, uint64_t limit) {
  CHECK(p.result == Result::kError);
  CHECK(p.error.code() == StatusCode::kResourceExhausted);
  CHECK(p.error.message() == "loader value exceeds max_value_bytes=" + std::to_string(limit));
}

// A 200 whose head (status line, fields, blank line) is exactly `head_bytes` long, padded with one
// X-Pad field, with Content-Length: 0.
std::string ResponseWithHeadOf(size_t head_bytes) {
  std::string start = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: ";
  std::string end = "\r\n\r\n";
  return start + std::string(head_bytes - start.size() - end.size(), 'p') + end;
}

std::string Fields(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "X-F" + std::to_string(i) + ": v\r\n";
  return out;
}

TEST_CASE("HttpResponseParser: a 200 with Content-Length, Cache-Control and keep-alive") {
  std::string response =
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCache-Control: max-age=5\r\n"
      "cache-control: public\r\n\r\nhello";
  Parsed p = Parse(response);
  CHECK(p.result == Result::kDone);
  CHECK(p.status == 200);
  CHECK(p.head_complete);
  CHECK(p.body == "hello");
  CHECK(p.has_cache_control);
  CHECK(p.cache_control == "max-age=5, public");
  CHECK(p.keep_alive);
  CHECK(p.consumed == response.size());
  CHECK_FALSE(Parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").has_cache_control);
}

TEST_CASE(
    "HttpResponseParser: the same response fed in one piece, byte by byte or cut anywhere "
    "gives the same result") {
  // Parse() checks it on every input of this file; these are the shapes side by side.
  for (std::string response : {
           "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
           "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno",
           "HTTP/1.0 200 OK\r\n\r\nuntil the end",
           "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
       }) {
    CAPTURE(response);
    Parsed p = Parse(response, {}, /*eof=*/true);
    CHECK(p.result != Result::kNeedMore);
  }
}

TEST_CASE("HttpResponseParser: a response followed by more bytes ends where it ends") {
  std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  HttpResponseParser p({});
  size_t used = 0;
  CHECK(p.Feed(first + "HTTP/1.1 200 OK\r\n", &used) == Result::kDone);
  CHECK(used == first.size());
  CHECK(p.body() == "ok");
  // Finished: it consumes nothing more and repeats its result.
  CHECK(p.Feed("more", &used) == Result::kDone);
  CHECK(used == 0);
  CHECK(p.FeedEof() == Result::kDone);
  CHECK(p.bytes_consumed() == first.size());
}

TEST_CASE("HttpResponseParser: status line") {
  CHECK(Parse("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n").status == 404);
  CHECK(Parse("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").result == Result::kDone);  // no reason
  CHECK(Parse("HTTP/1.1 599 x\tcaf\xc3\xa9\r\nContent-Length: 0\r\n\r\n").status == 599);
  CHECK(Parse("HTTP/1.9 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  for (std::string bad :
       {"HTTP/1.1 200\r\n", "HTTP/2 200 OK\r\n", "HTTP/2.0 200 OK\r\n", "HTTP/1.1 20 OK\r\n",
        "HTTP/1.1 2000 OK\r\n", "http/1.1 200 OK\r\n", "HTTP/1.1  200 OK\r\n",
        " HTTP/1.1 200 OK\r\n", "HTTP/1.1 2x0 OK\r\n", "HTTP/1.1 200 O\x01K\r\n",
        "HTTP/1.1 200 O\rK\r\n", "\r\n", "ICY 200 OK\r\n"}) {
    CheckMalformed(bad + "Content-Length: 0\r\n\r\n", "malformed status line");
  }
  CheckMalformed("HTTP/1.1 099 X\r\n\r\n", "status code out of range");
  CheckMalformed("HTTP/1.1 600 X\r\n\r\n", "status code out of range");
  CheckMalformed("HTTP/1.1 200 OK\n\n", "a line does not end with CRLF");
  CheckMalformed("HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", "a line does not end with CRLF");
}

TEST_CASE("HttpResponseParser: header fields") {
  const std::string ok = "HTTP/1.1 200 OK\r\n";
  CHECK(Parse(ok + "X-A:no-space\r\nX-B: \t padded \t \r\nX-C: caf\xc3\xa9\r\nX-D:\r\n"
                   "!#$%&'*+-.^_`|~09: token\r\nContent-Length: 0\r\n\r\n")
            .result == Result::kDone);
  CheckMalformed(ok + "X-A: a\r\n folded\r\n\r\n",
                 "a header line starts with whitespace (obsolete line folding)");
  CheckMalformed(ok + "\tX-A: a\r\n\r\n",
                 "a header line starts with whitespace (obsolete line folding)");
  CheckMalformed(ok + "X-A : a\r\n\r\n", "malformed header field name");
  CheckMalformed(ok + "X(A): a\r\n\r\n", "malformed header field name");
  CheckMalformed(ok + ": a\r\n\r\n", "malformed header field");
  CheckMalformed(ok + "no colon\r\n\r\n", "malformed header field");
  CheckMalformed(ok + "X-A: a" + std::string(1, '\0') + "b\r\n\r\n",
                 "control character in a header field value");
  CheckMalformed(ok + "X-A: a\rb\r\n\r\n", "control character in a header field value");
  CheckMalformed(ok + "X-A: a\x7f\r\n\r\n", "control character in a header field value");
}

TEST_CASE("HttpResponseParser: header names are case-insensitive") {
  Parsed chunked = Parse(
      "HTTP/1.1 200 OK\r\ntRANSFER-eNCODING: Chunked\r\nCACHE-CONTROL: no-store\r\n"
      "CONNECTION: CLOSE\r\n\r\n1\r\nx\r\n0\r\n\r\n");
  CHECK(chunked.result == Result::kDone);
  CHECK(chunked.body == "x");
  CHECK(chunked.cache_control == "no-store");
  CHECK_FALSE(chunked.keep_alive);
  CHECK(Parse("HTTP/1.1 200 OK\r\ncontent-LENGTH: 2\r\n\r\nab").body == "ab");
}

TEST_CASE("HttpResponseParser: the head limit (64 KiB), at and just above the bound") {
  Parsed at = Parse(ResponseWithHeadOf(64 * 1024));
  CHECK(at.result == Result::kDone);
  Parsed above = Parse(ResponseWithHeadOf(64 * 1024 + 1));
  CHECK(above.result == Result::kError);
  CHECK(above.error.code() == StatusCode::kUnavailable);
  CHECK(above.error.message() == "loader response headers exceed 64KiB");
  CHECK_FALSE(above.head_complete);

  // A head that never ends fails as soon as it passes the limit, not at its end.
  HttpResponseParser p({});
  size_t used = 0;
  CHECK(p.Feed("HTTP/1.1 200 OK\r\nX-Huge: " + std::string(64 * 1024, 'a'), &used) ==
        Result::kError);
  CHECK(p.error().message() == "loader response headers exceed 64KiB");

  // Another limit is named in bytes.
  HttpResponseLimits small;
  small.max_head_bytes = 100;
  CHECK(Parse(ResponseWithHeadOf(100), small).result == Result::kDone);
  CHECK(Parse(ResponseWithHeadOf(101), small).error.message() ==
        "loader response headers exceed 100 bytes");
}

TEST_CASE("HttpResponseParser: 1xx heads and trailers count against the head limit") {
  HttpResponseLimits limits;
  limits.max_head_bytes = 200;
  std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";  // 25 bytes
  CHECK(Parse(interim + ResponseWithHeadOf(175), limits).result == Result::kDone);
  CHECK(Parse(interim + ResponseWithHeadOf(176), limits).error.message() ==
        "loader response headers exceed 200 bytes");

  std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";  // 47 bytes
  auto with_trailer_section = [&](size_t trailer_bytes) {                      // "X-T: ...\r\n\r\n"
    return head + "1\r\nx\r\n0\r\nX-T: " + std::string(trailer_bytes - 9, 't') + "\r\n\r\n";
  };
  Parsed at = Parse(with_trailer_section(200 - 47), limits);
  CHECK(at.result == Result::kDone);
  CHECK(at.body == "x");
  CHECK(Parse(with_trailer_section(201 - 47), limits).error.message() ==
        "loader response headers exceed 200 bytes");
}

TEST_CASE("HttpResponseParser: at most 100 header fields, trailers and 1xx included") {
  const std::string ok = "HTTP/1.1 200 OK\r\n";
  CHECK(Parse(ok + Fields(99) + "Content-Length: 0\r\n\r\n").result == Result::kDone);
  Parsed above = Parse(ok + Fields(100) + "Content-Length: 0\r\n\r\n");
  CHECK(above.result == Result::kError);
  CHECK(above.error.code() == StatusCode::kUnavailable);
  CHECK(above.error.message() == "loader response has more than 100 header fields");

  std::string chunked = ok + "Transfer-Encoding: chunked\r\n" + Fields(98) + "\r\n0\r\n";
  CHECK(Parse(chunked + "X-T: 1\r\n\r\n").result == Result::kDone);
  CHECK(Parse(chunked + "X-T: 1\r\nX-U: 2\r\n\r\n").error.message() ==
        "loader response has more than 100 header fields");

  std::string interim = "HTTP/1.1 103 Early Hints\r\n" + Fields(50) + "\r\n";
  CHECK(Parse(interim + ok + Fields(49) + "Content-Length: 0\r\n\r\n").result == Result::kDone);
  CHECK(Parse(interim + ok + Fields(50) + "Content-Length: 0\r\n\r\n").result == Result::kError);
}

TEST_CASE("HttpResponseParser: 1xx interim responses are skipped, at most 10") {
  std::string final_response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  std::string early_hints =
      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\nCache-Control: "
      "max-age=9\r\nContent-Length: 99\r\n\r\n";
  Parsed p = Parse(early_hints + "HTTP/1.1 100 Continue\r\n\r\n" + final_response);
  CHECK(p.result == Result::kDone);
  CHECK(p.status == 200);
  CHECK(p.body == "ok");
  CHECK_FALSE(p.has_cache_control);  // the 1xx's fields are not the response's

  std::string ten;
  for (int i = 0; i < 10; ++i) ten += "HTTP/1.1 100 Continue\r\n\r\n";
  CHECK(Parse(ten + final_response).result == Result::kDone);
  CheckMalformed(ten + "HTTP/1.1 100 Continue\r\n\r\n" + final_response,
                 "more than 10 interim (1xx) responses");

  // 101 is final (nobody asked to switch protocols): no body, the connection is not reused.
  Parsed switching = Parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nbinary");
  CHECK(switching.result == Result::kDone);
  CHECK(switching.status == 101);
  CHECK_FALSE(switching.keep_alive);
}

TEST_CASE("HttpResponseParser: Content-Length") {
  const std::string ok = "HTTP/1.1 200 OK\r\n";
  CHECK(Parse(ok + "Content-Length: 003\r\n\r\nabc").body == "abc");
  CHECK(Parse(ok + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc").body == "abc");
  CheckMalformed(ok + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                 "conflicting Content-Length values");
  for (std::string bad : {"+3", "-1", "0x3", "3 3", "3, 3", "3;", "", "three", "\xd9\xa3"}) {
    CheckMalformed(ok + "Content-Length: " + bad + "\r\n\r\n", "invalid Content-Length");
  }
  CheckMalformed(ok + "Content-Length: 18446744073709551616\r\n\r\n", "Content-Length overflows");
  CheckMalformed(ok + "Content-Length: 99999999999999999999999\r\n\r\n",
                 "Content-Length overflows");
  // The largest value that fits is simply too large.
  CheckBodyTooLarge(Parse(ok + "Content-Length: 18446744073709551615\r\n\r\n"), 1 << 20);
  CheckMalformed(
      ok + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "both Content-Length and Transfer-Encoding");
  CheckMalformed(ok + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                 "both Content-Length and Transfer-Encoding");
  // A short body is not complete until the connection says so.
  Parsed short_body = Parse(ok + "Content-Length: 5\r\n\r\nabc", {}, /*eof=*/true);
  CHECK(short_body.result == Result::kError);
  CHECK(short_body.error.message() ==
        "loader closed the connection before the end of its response");
}

TEST_CASE("HttpResponseParser: the body limit, at and just above, announced or received") {
  const uint64_t limit = 10;
  const std::string ok = "HTTP/1.1 200 OK\r\n";
  // Content-Length: refused on the announcement, before any byte of the body.
  CHECK(Parse(ok + "Content-Length: 10\r\n\r\n0123456789", SmallBody(limit)).body == "0123456789");
  Parsed announced = Parse(ok + "Content-Length: 11\r\n\r\n", SmallBody(limit));
  CheckBodyTooLarge(announced, limit);
  CHECK(announced.head_complete);
  CHECK(announced.status == 200);
  // Chunked: refused on the chunk size that passes the limit.
  std::string chunked = ok + "Transfer-Encoding: chunked\r\n\r\n4\r\n0123\r\n";
  CHECK(Parse(chunked + "6\r\n456789\r\n0\r\n\r\n", SmallBody(limit)).body == "0123456789");
  CheckBodyTooLarge(Parse(chunked + "7\r\n", SmallBody(limit)), limit);
  CheckBodyTooLarge(Parse(chunked + "FFFFFFFFFFFFFFFF\r\n", SmallBody(limit)), limit);
  // Close-delimited: refused on the byte that passes it.
  std::string until_close = "HTTP/1.0 200 OK\r\n\r\n";
  CHECK(Parse(until_close + "0123456789", SmallBody(limit), true).body == "0123456789");
  Parsed received = Parse(until_close + "0123456789a", SmallBody(limit));
  CheckBodyTooLarge(received, limit);
  CHECK(received.body.empty());
  // A limit of zero allows only empty bodies.
  CHECK(Parse(ok + "Content-Length: 0\r\n\r\n", SmallBody(0)).result == Result::kDone);
  CheckBodyTooLarge(Parse(ok + "Content-Length: 1\r\n\r\n", SmallBody(0)), 0);
}

TEST_CASE("HttpResponseParser: chunked bodies") {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  Parsed p = Parse(head + "5\r\nhello\r\nA;ext=1;other=\"q\"\r\n, world!!!\r\n0000\r\n\r\n");
  CHECK(p.result == Result::kDone);
  CHECK(p.body == "hello, world!!!");
  CHECK(p.keep_alive);
  CHECK(Parse(head + "5 ;ext\r\nhello\r\n0\r\n\r\n").body == "hello");  // BWS before ';'
  CHECK(Parse(head + "000000000000000000000005\r\nhello\r\n0\r\n\r\n").body == "hello");
  Parsed trailers = Parse(head + "1\r\nx\r\n0\r\nX-Checksum: 1\r\nCache-Control: no-store\r\n\r\n");
  CHECK(trailers.result == Result::kDone);
  CHECK_FALSE(trailers.has_cache_control);  // trailers are not merged into the head
  CheckMalformed(head + "5\r\nhelloX\r\n0\r\n\r\n", "chunk data is not followed by CRLF");
  CheckMalformed(head + "5\r\nhello\rX0\r\n\r\n", "chunk data is not followed by CRLF");
  CheckMalformed(head + "\r\n", "malformed chunk size");
  CheckMalformed(head + "g\r\n", "malformed chunk size");
  CheckMalformed(head + "-5\r\n", "malformed chunk size");
  CheckMalformed(head + "5 \r\nhello\r\n0\r\n\r\n", "malformed chunk size");
  CheckMalformed(head + "5 x\r\nhello\r\n0\r\n\r\n", "malformed chunk size");
  CheckMalformed(head + "5;a\x01\r\nhello\r\n0\r\n\r\n", "control character in a chunk extension");
  CheckMalformed(head + "5\n", "a chunk size line does not end with CRLF");
  CheckMalformed(head + "10000000000000000\r\n", "chunk size overflows");
  CheckMalformed(head + "0\r\nbad trailer\r\n\r\n", "malformed header field");
  CheckMalformed(head + "1;" + std::string(4094, 'e') + "\r\n",
                 "a chunk size line exceeds 4096 bytes");
  CHECK(Parse(head + "1;" + std::string(4092, 'e') + "\r\nx\r\n0\r\n\r\n").body == "x");
  for (std::string coding : {"gzip, chunked", "chunked, chunked", "identity", "chunked;q=1", ""}) {
    CheckMalformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: " + coding + "\r\n\r\n",
                   "unsupported Transfer-Encoding (only chunked is supported)");
  }
  // Codings split over two fields are one list.
  CheckMalformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
                 "unsupported Transfer-Encoding (only chunked is supported)");
  Parsed truncated = Parse(head + "5\r\nhel", {}, /*eof=*/true);
  CHECK(truncated.error.message() == "loader closed the connection before the end of its response");
}

TEST_CASE("HttpResponseParser: close-delimited bodies (HTTP/1.0, or no length)") {
  Parsed http10 = Parse("HTTP/1.0 200 OK\r\nCache-Control: max-age=1\r\n\r\nabc", {}, true);
  CHECK(http10.result == Result::kDone);
  CHECK(http10.body == "abc");
  CHECK_FALSE(http10.keep_alive);
  CHECK(Parse("HTTP/1.0 200 OK\r\n\r\nabc").result == Result::kNeedMore);  // until EOF
  Parsed http11 = Parse("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nabc", {}, true);
  CHECK(http11.body == "abc");
  CHECK_FALSE(http11.keep_alive);  // the close is the end of the body
  CHECK(Parse("HTTP/1.0 200 OK\r\n\r\n", {}, true).body.empty());
}

TEST_CASE("HttpResponseParser: keep-alive decisions") {
  auto keep_alive = [](std::string version, std::string headers) {
    Parsed p = Parse(version + " 200 OK\r\n" + headers + "Content-Length: 1\r\n\r\nx");
    REQUIRE(p.result == Result::kDone);
    return p.keep_alive;
  };
  CHECK(keep_alive("HTTP/1.1", ""));
  CHECK_FALSE(keep_alive("HTTP/1.1", "Connection: close\r\n"));
  CHECK_FALSE(keep_alive("HTTP/1.1", "Connection: Keep-Alive, Close\r\n"));
  CHECK_FALSE(keep_alive("HTTP/1.1", "Connection: keep-alive\r\nConnection: close\r\n"));
  CHECK(keep_alive("HTTP/1.1", "Connection: keep-alive\r\n"));
  CHECK(keep_alive("HTTP/1.1", "Connection: closed, upgrade\r\n"));  // not the close token
  CHECK_FALSE(keep_alive("HTTP/1.0", ""));
  CHECK(keep_alive("HTTP/1.0", "Connection: keep-alive\r\n"));
  CHECK_FALSE(keep_alive("HTTP/1.0", "Connection: keep-alive, close\r\n"));
  // No body by status: 204 and 304 end with their head, whatever their Content-Length says.
  for (std::string status : {"204 No Content", "304 Not Modified"}) {
    Parsed p = Parse("HTTP/1.1 " + status + "\r\nContent-Length: 10\r\n\r\n");
    CHECK(p.result == Result::kDone);
    CHECK(p.body.empty());
    CHECK(p.keep_alive);
  }
}

TEST_CASE("HttpResponseParser: the end of the connection") {
  HttpResponseParser nothing({});
  CHECK(nothing.FeedEof() == Result::kError);
  CHECK(nothing.error().code() == StatusCode::kUnavailable);
  CHECK(nothing.error().message() == "loader closed the connection before answering");
  Parsed in_head = Parse("HTTP/1.1 200 OK\r\nContent-Le", {}, /*eof=*/true);
  CHECK(in_head.error.message() == "loader closed the connection before the end of its response");
  CHECK_FALSE(in_head.head_complete);
  Parsed in_body = Parse("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nno", {}, true);
  CHECK(in_body.result == Result::kError);
  CHECK(in_body.head_complete);  // the status is known even so
  CHECK(in_body.status == 404);
}

}  // namespace
}  // namespace podcache
