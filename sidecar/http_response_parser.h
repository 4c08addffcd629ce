#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace podcache {

// Bounds on what one HTTP response may make the parser hold or read.
struct HttpResponseLimits {
  // The head: status lines and header fields, CRLFs included, of the response, of the 1xx interim
  // responses before it and of its chunked trailers, all counted together.
  size_t max_head_bytes = 64 * 1024;
  size_t max_header_fields = 100;  // same scope as max_head_bytes
  size_t max_interim_responses = 10;
  size_t max_chunk_line_bytes = 4096;  // one chunk-size line with its extensions
  uint64_t max_body_bytes = 1 << 20;
};

// An incremental HTTP/1.1 response parser, for a GET (every status but 1xx, 204 and 304 may have
// a body). No I/O: feed it the bytes as they arrive, in pieces of any size; the result does not
// depend on where the pieces are cut. Robust against any input (fuzzed): every malformed response
// and every limit ends in kError with a Status for the user:
//   UNAVAILABLE         malformed, head above max_head_bytes or max_header_fields, unsupported
//                       Transfer-Encoding, connection closed before the end
//   RESOURCE_EXHAUSTED  body (announced by Content-Length or a chunk size, or received) above
//                       max_body_bytes
// What it accepts: status line `HTTP/1.x NNN reason` (CRLF line ends only), header fields
// `token: value` (no obs-fold, no control characters), Content-Length (digits; repeated fields
// must agree; not with Transfer-Encoding), `Transfer-Encoding: chunked` (extensions ignored,
// trailers counted in the head and otherwise ignored), close-delimited bodies, 1xx interim
// responses (skipped; 101 is final: the caller did not ask to switch protocols).
// Not thread-safe: one parser per response, used by one thread at a time.
class HttpResponseParser {
 public:
  enum class Result { kNeedMore, kDone, kError };

  explicit HttpResponseParser(const HttpResponseLimits& limits);

  // Consumes bytes of `data` in order. kDone: the response ended after `*used` bytes (the rest of
  // `data` is not part of it). After kDone or kError, consumes nothing and repeats the result.
  Result Feed(std::string_view data, size_t* used = nullptr);
  // The connection was closed by the peer: ends a close-delimited body, else an error.
  Result FeedEof();

  Result result() const { return result_; }
  // When result() is kError.
  const Status& error() const { return error_; }
  // The final (non-1xx) response's status line and header fields were parsed; status_code() and
  // the headers below are those of the final response. May be true with kError (e.g. a body
  // above the limit).
  bool head_complete() const { return head_complete_; }
  int status_code() const { return status_code_; }
  // Every Cache-Control field, joined with ", ".
  bool has_cache_control() const { return has_cache_control_; }
  const std::string& cache_control() const { return cache_control_; }
  // When kDone: whether the connection may carry another request (HTTP/1.1 without
  // `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`; never after a close-delimited
  // body or a 101).
  bool keep_alive() const { return keep_alive_; }
  // The body received so far: all of it when kDone, nothing after kError.
  const std::string& body() const { return body_; }
  std::string TakeBody() { return std::move(body_); }
  // Bytes consumed so far, all parts of the response included; after kError, through the byte
  // that made it fail (the same however the input was cut).
  uint64_t bytes_consumed() const { return consumed_; }

 private:
  enum class State {
    kStatusLine,
    kHeaderLine,
    kBodyByLength,
    kChunkSizeLine,
    kChunkData,
    kChunkDataEnd,  // the CRLF after a chunk's data
    kTrailerLine,
    kBodyUntilClose,
    kFinished,  // kDone or kError
  };

  size_t ConsumeHeadLine(std::string_view data);
  size_t ConsumeChunkSizeLine(std::string_view data);
  size_t ConsumeChunkDataEnd(std::string_view data);
  size_t ConsumeBody(std::string_view data, uint64_t* left);

  void OnStatusLine(std::string_view line);
  void OnHeaderLine(std::string_view line, bool trailer);
  void OnHeaderField(std::string_view name, std::string_view value);
  void OnHeadEnd();
  void OnChunkSizeLine(std::string_view line);
  void StartBody();
  void ResetResponseHead();

  void Finish();
  void Fail(Status error);
  Status Malformed(std::string_view what) const;
  Status BodyTooLarge() const;

  HttpResponseLimits limits_;
  State state_ = State::kStatusLine;
  Result result_ = Result::kNeedMore;
  Status error_;

  std::string line_;  // the line being received, without its CRLF once complete
  uint64_t consumed_ = 0;
  size_t head_bytes_ = 0;  // counted against limits_.max_head_bytes
  size_t header_fields_ = 0;
  size_t interim_responses_ = 0;

  // The current response's head (reset after a 1xx).
  int version_minor_ = 0;
  int status_code_ = 0;
  bool head_complete_ = false;
  bool has_content_length_ = false;
  uint64_t content_length_ = 0;
  bool has_transfer_encoding_ = false;
  int transfer_codings_ = 0;  // codings listed in Transfer-Encoding fields
  bool chunked_ = false;      // and the last one is chunked
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool has_cache_control_ = false;
  std::string cache_control_;

  bool keep_alive_ = false;
  uint64_t body_left_ = 0;  // kBodyByLength: bytes still due; kChunkData: of this chunk
  std::string body_;
};

}  // namespace podcache
