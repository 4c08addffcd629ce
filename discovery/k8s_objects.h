#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace podcache {

// The parts of the Kubernetes API objects that discovery reads: EndpointSlices
// (discovery.k8s.io/v1), their lists, and watch events. Pure parsing, no network, so every
// shape the API server may send is unit-tested here.

// The peers one EndpointSlice contributes: the first address of each endpoint that is ready
// (a missing conditions.ready means ready) and not terminating, with the port named
// `port_name`, as "addr:port" ("[addr]:port" for IPv6). `endpoints` and `ports` may be null.
struct SliceMembers {
  std::string name;              // metadata.name: slices are merged by name
  std::string resource_version;  // metadata.resourceVersion
  std::vector<std::string> members;
};

// A watch event. `type` is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.
struct WatchEvent {
  std::string type;
  SliceMembers slice;         // ADDED, MODIFIED, DELETED; BOOKMARK: only resource_version
  int error_code = 0;         // ERROR: the Status object's code (410: resourceVersion too old)
  std::string error_message;  // ERROR: the Status object's message
};

// A list response: its slices and the list's metadata.resourceVersion (where the watch starts),
// and metadata.continue when the list is paged.
struct SliceList {
  std::string resource_version;
  std::string continue_token;
  std::vector<SliceMembers> slices;
};

// REQUIRES: `port_name` is the EndpointSlice port name to use (e.g. "peer").
StatusOr<SliceList> ParseSliceList(std::string_view json, const std::string& port_name);
StatusOr<WatchEvent> ParseWatchEvent(std::string_view json, const std::string& port_name);

// A Status object's message and code ({"kind":"Status","code":401,"message":...}) from an error
// response body, for logs; "" when the body is not a Status.
std::string StatusMessage(std::string_view json);

// The member set of a service: its slices by name. Not thread-safe.
class SliceSet {
 public:
  void Clear() { slices_.clear(); }
  void Put(SliceMembers slice) { slices_[slice.name] = std::move(slice.members); }
  void Erase(const std::string& name) { slices_.erase(name); }
  // The union over all slices, sorted, without duplicates (a pod may appear in two slices while
  // it moves between them).
  std::vector<std::string> Members() const;

 private:
  std::map<std::string, std::vector<std::string>> slices_;
};

// Splits a watch response body into lines (one JSON event per line). Chunks of the body may end
// anywhere, inside an event or between several. Not thread-safe.
class LineSplitter {
 public:
  // REQUIRES: max_line > 0; a longer line is an error (the stream must be dropped).
  explicit LineSplitter(size_t max_line) : max_line_(max_line) {}
  // Appends `chunk`, then hands every complete line (without the newline; empty lines skipped)
  // to `on_line`. Returns an error when a line exceeds max_line.
  template <typename Fn>
  Status Feed(std::string_view chunk, Fn&& on_line) {
    size_t start = 0;
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (chunk[i] != '\n') continue;
      pending_.append(chunk.data() + start, i - start);
      start = i + 1;
      if (pending_.size() > max_line_) return TooLong();
      if (!pending_.empty() && pending_ != "\r") on_line(std::string_view(pending_));
      pending_.clear();
    }
    pending_.append(chunk.data() + start, chunk.size() - start);
    return pending_.size() > max_line_ ? TooLong() : OkStatus();
  }
  size_t pending() const { return pending_.size(); }

 private:
  Status TooLong() const;
  const size_t max_line_;
  std::string pending_;
};

}  // namespace podcache
