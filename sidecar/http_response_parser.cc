#include "sidecar/http_response_parser.h"

#include <algorithm>
#include <limits>

#include "core/strings.h"

namespace podcache {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// tchar of RFC 9110: the characters of a header field name.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c)) return true;
  return c != '\0' && std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// HTAB, SP, VCHAR and obs-text: what a field value, a reason phrase or a chunk extension may hold.
bool IsTextChar(char c) {
  auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

bool AllTextChars(std::string_view s) { return std::all_of(s.begin(), s.end(), IsTextChar); }

// Calls fn(element) for each non-empty element of a comma-separated list (RFC 9110 5.6.1).
template <typename Fn>
void ForEachListElement(std::string_view list, Fn fn) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view element = TrimBlanks(list.substr(0, comma));
    if (!element.empty()) fn(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

std::string FormatSize(size_t bytes) {
  if (bytes != 0 && bytes % 1024 == 0) return std::to_string(bytes / 1024) + "KiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

HttpResponseParser::HttpResponseParser(const HttpResponseLimits& limits) : limits_(limits) {}

HttpResponseParser::Result HttpResponseParser::Feed(std::string_view data, size_t* used) {
  size_t i = 0;
  while (i < data.size() && state_ != State::kFinished) {
    std::string_view rest = data.substr(i);
    switch (state_) {
      case State::kStatusLine:
      case State::kHeaderLine:
      case State::kTrailerLine:
        i += ConsumeHeadLine(rest);
        break;
      case State::kBodyByLength:
        i += ConsumeBody(rest, &body_left_);
        if (body_left_ == 0) Finish();
        break;
      case State::kChunkSizeLine:
        i += ConsumeChunkSizeLine(rest);
        break;
      case State::kChunkData:
        i += ConsumeBody(rest, &body_left_);
        if (body_left_ == 0) state_ = State::kChunkDataEnd;
        break;
      case State::kChunkDataEnd:
        i += ConsumeChunkDataEnd(rest);
        break;
      case State::kBodyUntilClose:
        if (rest.size() > limits_.max_body_bytes - body_.size()) {
          i += limits_.max_body_bytes - body_.size() + 1;  // through the byte past the limit
          Fail(BodyTooLarge());
        } else {
          body_.append(rest);
          i = data.size();
        }
        break;
      case State::kFinished:
        break;
    }
  }
  consumed_ += i;
  if (used != nullptr) *used = i;
  return result_;
}

HttpResponseParser::Result HttpResponseParser::FeedEof() {
  if (state_ == State::kFinished) return result_;
  if (state_ == State::kBodyUntilClose) {
    Finish();
  } else if (consumed_ == 0) {
    Fail(UnavailableError("loader closed the connection before answering"));
  } else {
    Fail(UnavailableError("loader closed the connection before the end of its response"));
  }
  return result_;
}

size_t HttpResponseParser::ConsumeHeadLine(std::string_view data) {
  size_t lf = data.find('\n');
  size_t n = lf == std::string_view::npos ? data.size() : lf + 1;
  // head_bytes_ <= max_head_bytes always holds, so the subtraction cannot wrap.
  if (n > limits_.max_head_bytes - head_bytes_) {
    size_t through_first_byte_past = limits_.max_head_bytes - head_bytes_ + 1;
    Fail(UnavailableError("loader response headers exceed " + FormatSize(limits_.max_head_bytes)));
    return through_first_byte_past;
  }
  head_bytes_ += n;
  line_.append(data.substr(0, n));
  if (lf == std::string_view::npos) return n;
  if (line_.size() < 2 || line_[line_.size() - 2] != '\r') {
    Fail(Malformed("a line does not end with CRLF"));
    return n;
  }
  line_.resize(line_.size() - 2);
  switch (state_) {
    case State::kStatusLine:
      OnStatusLine(line_);
      break;
    case State::kHeaderLine:
      OnHeaderLine(line_, /*trailer=*/false);
      break;
    default:
      OnHeaderLine(line_, /*trailer=*/true);
      break;
  }
  line_.clear();
  return n;
}

size_t HttpResponseParser::ConsumeChunkSizeLine(std::string_view data) {
  size_t lf = data.find('\n');
  size_t n = lf == std::string_view::npos ? data.size() : lf + 1;
  if (n > limits_.max_chunk_line_bytes - line_.size()) {
    size_t through_first_byte_past = limits_.max_chunk_line_bytes - line_.size() + 1;
    Fail(Malformed("a chunk size line exceeds " + std::to_string(limits_.max_chunk_line_bytes) +
                   " bytes"));
    return through_first_byte_past;
  }
  line_.append(data.substr(0, n));
  if (lf == std::string_view::npos) return n;
  if (line_.size() < 2 || line_[line_.size() - 2] != '\r') {
    Fail(Malformed("a chunk size line does not end with CRLF"));
    return n;
  }
  line_.resize(line_.size() - 2);
  OnChunkSizeLine(line_);
  line_.clear();
  return n;
}

size_t HttpResponseParser::ConsumeChunkDataEnd(std::string_view data) {
  // line_ holds what arrived of the CRLF so far: nothing or "\r".
  size_t i = 0;
  while (i < data.size() && state_ == State::kChunkDataEnd) {
    char c = data[i++];
    if (line_.empty() && c == '\r') {
      line_ = "\r";
    } else if (!line_.empty() && c == '\n') {
      line_.clear();
      state_ = State::kChunkSizeLine;
    } else {
      Fail(Malformed("chunk data is not followed by CRLF"));
    }
  }
  return i;
}

size_t HttpResponseParser::ConsumeBody(std::string_view data, uint64_t* left) {
  size_t n = static_cast<size_t>(std::min<uint64_t>(data.size(), *left));
  body_.append(data.substr(0, n));
  *left -= n;
  return n;
}

void HttpResponseParser::OnStatusLine(std::string_view line) {
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]
  if (line.size() < 13 || line.substr(0, 7) != "HTTP/1." || !IsDigit(line[7]) || line[8] != ' ' ||
      !IsDigit(line[9]) || !IsDigit(line[10]) || !IsDigit(line[11]) || line[12] != ' ' ||
      !AllTextChars(line.substr(13))) {
    return Fail(Malformed("malformed status line"));
  }
  int code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (code < 100 || code > 599) return Fail(Malformed("status code out of range"));
  version_minor_ = line[7] - '0';
  status_code_ = code;
  state_ = State::kHeaderLine;
}

void HttpResponseParser::OnHeaderLine(std::string_view line, bool trailer) {
  if (line.empty()) {
    if (trailer) return Finish();
    return OnHeadEnd();
  }
  if (IsBlank(line.front())) {
    return Fail(Malformed("a header line starts with whitespace (obsolete line folding)"));
  }
  if (++header_fields_ > limits_.max_header_fields) {
    return Fail(UnavailableError("loader response has more than " +
                                 std::to_string(limits_.max_header_fields) + " header fields"));
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Fail(Malformed("malformed header field"));
  }
  std::string_view name = line.substr(0, colon);
  if (!std::all_of(name.begin(), name.end(), IsTokenChar)) {
    return Fail(Malformed("malformed header field name"));
  }
  std::string_view value = TrimBlanks(line.substr(colon + 1));
  if (!AllTextChars(value)) return Fail(Malformed("control character in a header field value"));
  if (!trailer) OnHeaderField(name, value);  // trailers are counted, then ignored
}

void HttpResponseParser::OnHeaderField(std::string_view name, std::string_view value) {
  if (EqualsIgnoreCase(name, "content-length")) {
    if (value.empty() || !std::all_of(value.begin(), value.end(), IsDigit)) {
      return Fail(Malformed("invalid Content-Length"));
    }
    uint64_t length = 0;
    for (char c : value) {
      uint64_t digit = static_cast<uint64_t>(c - '0');
      if (length > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
        return Fail(Malformed("Content-Length overflows"));
      }
      length = length * 10 + digit;
    }
    if (has_content_length_ && length != content_length_) {
      return Fail(Malformed("conflicting Content-Length values"));
    }
    has_content_length_ = true;
    content_length_ = length;
  } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
    has_transfer_encoding_ = true;
    ForEachListElement(value, [this](std::string_view coding) {
      ++transfer_codings_;
      chunked_ = EqualsIgnoreCase(coding, "chunked");
    });
  } else if (EqualsIgnoreCase(name, "connection")) {
    ForEachListElement(value, [this](std::string_view option) {
      if (EqualsIgnoreCase(option, "close")) connection_close_ = true;
      if (EqualsIgnoreCase(option, "keep-alive")) connection_keep_alive_ = true;
    });
  } else if (EqualsIgnoreCase(name, "cache-control")) {
    if (has_cache_control_) cache_control_ += ", ";
    cache_control_ += value;
    has_cache_control_ = true;
  }
}

void HttpResponseParser::OnHeadEnd() {
  if (status_code_ < 200 && status_code_ != 101) {
    if (++interim_responses_ > limits_.max_interim_responses) {
      return Fail(Malformed("more than " + std::to_string(limits_.max_interim_responses) +
                            " interim (1xx) responses"));
    }
    ResetResponseHead();
    state_ = State::kStatusLine;
    return;
  }
  head_complete_ = true;
  if (has_transfer_encoding_ && has_content_length_) {
    return Fail(Malformed("both Content-Length and Transfer-Encoding"));
  }
  if (has_transfer_encoding_ && !(transfer_codings_ == 1 && chunked_)) {
    return Fail(Malformed("unsupported Transfer-Encoding (only chunked is supported)"));
  }
  keep_alive_ = !connection_close_ && (version_minor_ >= 1 || connection_keep_alive_);
  StartBody();
}

void HttpResponseParser::StartBody() {
  if (status_code_ == 101) {  // another protocol follows: never reused
    keep_alive_ = false;
    return Finish();
  }
  if (status_code_ == 204 || status_code_ == 304) return Finish();
  if (chunked_) {
    state_ = State::kChunkSizeLine;
    return;
  }
  if (has_content_length_) {
    if (content_length_ > limits_.max_body_bytes) return Fail(BodyTooLarge());
    if (content_length_ == 0) return Finish();
    body_.reserve(static_cast<size_t>(content_length_));
    body_left_ = content_length_;
    state_ = State::kBodyByLength;
    return;
  }
  keep_alive_ = false;  // the end of the body is the end of the connection
  state_ = State::kBodyUntilClose;
}

void HttpResponseParser::OnChunkSizeLine(std::string_view line) {
  // chunk-size [ chunk-ext ], chunk-ext = *( BWS ";" ... ): extensions are ignored.
  uint64_t size = 0;
  size_t i = 0;
  for (; i < line.size() && HexValue(line[i]) >= 0; ++i) {
    if (size > (std::numeric_limits<uint64_t>::max() >> 4)) {
      return Fail(Malformed("chunk size overflows"));
    }
    size = size * 16 + static_cast<uint64_t>(HexValue(line[i]));
  }
  if (i == 0) return Fail(Malformed("malformed chunk size"));
  std::string_view extensions = TrimBlanks(line.substr(i));
  if (i < line.size() && (extensions.empty() || extensions.front() != ';')) {
    return Fail(Malformed("malformed chunk size"));
  }
  if (!AllTextChars(extensions)) return Fail(Malformed("control character in a chunk extension"));
  if (size == 0) {
    state_ = State::kTrailerLine;
    return;
  }
  if (size > limits_.max_body_bytes - body_.size()) return Fail(BodyTooLarge());
  body_left_ = size;
  state_ = State::kChunkData;
}

void HttpResponseParser::ResetResponseHead() {
  version_minor_ = 0;
  status_code_ = 0;
  has_content_length_ = false;
  content_length_ = 0;
  has_transfer_encoding_ = false;
  transfer_codings_ = 0;
  chunked_ = false;
  connection_close_ = false;
  connection_keep_alive_ = false;
  has_cache_control_ = false;
  cache_control_.clear();
}

void HttpResponseParser::Finish() {
  state_ = State::kFinished;
  result_ = Result::kDone;
  std::string().swap(line_);
}

void HttpResponseParser::Fail(Status error) {
  state_ = State::kFinished;
  result_ = Result::kError;
  error_ = std::move(error);
  keep_alive_ = false;
  std::string().swap(line_);
  // What arrived of the body depends on how the bytes were cut: nothing of it is kept.
  std::string().swap(body_);
}

Status HttpResponseParser::Malformed(std::string_view what) const {
  return UnavailableError("malformed loader response: " + std::string(what));
}

Status HttpResponseParser::BodyTooLarge() const {
  return ResourceExhaustedError("loader value exceeds max_value_bytes=" +
                                std::to_string(limits_.max_body_bytes));
}

}  // namespace podcache
