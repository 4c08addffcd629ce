// Fuzz target: what the Kubernetes API server sends to the kubernetes discovery source
// (discovery/k8s_objects.h). Every input is read three ways, as the source reads bodies:
//   - a list response (ParseSliceList) and an error body (StatusMessage);
//   - a watch stream: the LineSplitter cuts it into lines, fed in chunks whose sizes come from
//     the input itself, and each line is a watch event (ParseWatchEvent) applied to a SliceSet
//     as KubernetesPeerSource::OnEvent applies it.
// Checks: splitting in chunks gives the same lines and the same error as feeding the body at
// once; every member is "addr:port" with a valid port; SliceSet's members are sorted and unique.
#include "discovery/k8s_objects.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/log.h"
#include "fuzz/fuzz_check.h"

namespace podcache {
namespace {

constexpr const char* kPortName = "peer";
constexpr size_t kMaxLine = 4096;  // small, so that the too-long path is reached too

struct Split {
  std::vector<std::string> lines;
  bool ok = true;
};

// Feeds `body` to a LineSplitter in chunks of the given sizes (cycled; 0 means the whole rest),
// stopping at the first error as the source does.
Split SplitLines(std::string_view body, const std::vector<size_t>& chunk_sizes) {
  LineSplitter splitter(kMaxLine);
  Split out;
  size_t i = 0;
  while (!body.empty()) {
    size_t n = chunk_sizes.empty() ? 0 : chunk_sizes[i++ % chunk_sizes.size()];
    std::string_view chunk = body.substr(0, n == 0 ? body.size() : n);
    body.remove_prefix(chunk.size());
    Status s = splitter.Feed(chunk, [&](std::string_view line) { out.lines.emplace_back(line); });
    if (!s.ok()) {
      out.ok = false;
      break;
    }
    FUZZ_CHECK(splitter.pending() <= kMaxLine);
  }
  return out;
}

// "addr:port" with a port in 1..65535 (the address is the API server's, not checked here).
void CheckMembers(const SliceMembers& slice) {
  for (const std::string& m : slice.members) {
    size_t colon = m.rfind(':');
    FUZZ_CHECK(colon != std::string::npos && colon > 0);
    int port = std::atoi(m.c_str() + colon + 1);
    FUZZ_CHECK(port >= 1 && port <= 65535 && m.substr(colon + 1) == std::to_string(port));
  }
  FUZZ_CHECK(std::is_sorted(slice.members.begin(), slice.members.end()));
}

void CheckList(std::string_view body) {
  auto list = ParseSliceList(body, kPortName);
  if (!list.ok()) return;
  FUZZ_CHECK(!list.value().resource_version.empty());
  SliceSet set;
  for (const SliceMembers& slice : list.value().slices) {
    FUZZ_CHECK(!slice.name.empty());
    CheckMembers(slice);
    set.Put(slice);
  }
  std::vector<std::string> members = set.Members();
  FUZZ_CHECK(std::adjacent_find(members.begin(), members.end(), std::greater_equal<>()) ==
             members.end());
}

void CheckWatch(std::string_view body) {
  // Chunk sizes from the first bytes, so the fuzzer controls where chunks end.
  std::vector<size_t> sizes;
  for (size_t i = 0; i < std::min<size_t>(body.size(), 4); ++i) {
    sizes.push_back(static_cast<unsigned char>(body[i]) % 17 + 1);
  }
  Split whole = SplitLines(body, {});
  Split chunked = SplitLines(body, sizes);
  FUZZ_CHECK(whole.ok == chunked.ok);
  FUZZ_CHECK(whole.lines == chunked.lines);
  SliceSet set;
  for (const std::string& line : whole.lines) {
    FUZZ_CHECK(!line.empty() && line.size() <= kMaxLine && line.find('\n') == std::string::npos);
    auto event = ParseWatchEvent(line, kPortName);
    if (!event.ok()) continue;
    WatchEvent& e = event.value();
    if (e.type == "ERROR" || e.type == "BOOKMARK") continue;
    FUZZ_CHECK(e.type == "ADDED" || e.type == "MODIFIED" || e.type == "DELETED");
    FUZZ_CHECK(!e.slice.name.empty() && !e.slice.resource_version.empty());
    CheckMembers(e.slice);
    if (e.type == "DELETED") {
      set.Erase(e.slice.name);
    } else {
      set.Put(std::move(e.slice));
    }
  }
  std::vector<std::string> members = set.Members();
  FUZZ_CHECK(std::adjacent_find(members.begin(), members.end(), std::greater_equal<>()) ==
             members.end());
}

}  // namespace
}  // namespace podcache

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = (podcache::SetLogLevel(podcache::LogLevel::kError), true);
  (void)quiet;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  podcache::CheckList(body);
  podcache::StatusMessage(body);
  podcache::CheckWatch(body);
  return 0;
}
