#include "discovery/k8s_objects.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace podcache {
namespace {

using Members = std::vector<std::string>;

// A slice as the API server lists it (items carry no kind/apiVersion).
const char* kSlice = R"({
  "metadata": {"name": "web-abc12", "namespace": "shop", "resourceVersion": "1001",
               "labels": {"kubernetes.io/service-name": "web"}},
  "addressType": "IPv4",
  "endpoints": [
    {"addresses": ["10.0.0.1"], "conditions": {"ready": true, "serving": true, "terminating": false}},
    {"addresses": ["10.0.0.2"], "conditions": {}},
    {"addresses": ["10.0.0.3"], "conditions": {"ready": false}},
    {"addresses": ["10.0.0.4"], "conditions": {"ready": false, "serving": true, "terminating": true}},
    {"addresses": ["10.0.0.5", "10.0.0.50"]},
    {"addresses": ["10.0.0.6"], "conditions": {"ready": true, "terminating": true}},
    {"addresses": [], "conditions": {"ready": true}}
  ],
  "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "peer", "port": 7071, "protocol": "TCP"}]
})";

std::string List(const std::string& items, const std::string& rv = "2000") {
  return R"({"kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1","metadata":{"resourceVersion":")" +
         rv + R"("},"items":)" + items + "}";
}

TEST_CASE("EndpointSlice: ready and not terminating endpoints with the named port") {
  auto list = ParseSliceList(List(std::string("[") + kSlice + "]"), "peer");
  REQUIRE(list.ok());
  CHECK(list.value().resource_version == "2000");
  REQUIRE(list.value().slices.size() == 1);
  const SliceMembers& s = list.value().slices[0];
  CHECK(s.name == "web-abc12");
  CHECK(s.resource_version == "1001");
  // A missing ready condition (or none at all) means ready; only the first address counts.
  CHECK(s.members == Members{"10.0.0.1:7071", "10.0.0.2:7071", "10.0.0.5:7071"});
  auto http = ParseSliceList(List(std::string("[") + kSlice + "]"), "http");
  CHECK(http.value().slices[0].members ==
        Members{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.5:8080"});
  CHECK(ParseSliceList(List(std::string("[") + kSlice + "]"), "metrics")
            .value()
            .slices[0]
            .members.empty());
}

TEST_CASE("EndpointSlice: null endpoints, null ports, null items, FQDN and IPv6 slices") {
  auto list = ParseSliceList(List(R"([
    {"metadata": {"name": "a", "resourceVersion": "1"}, "addressType": "IPv4", "endpoints": null,
     "ports": [{"name": "peer", "port": 7071}]},
    {"metadata": {"name": "b", "resourceVersion": "2"}, "addressType": "IPv4",
     "endpoints": [{"addresses": ["10.1.1.1"]}], "ports": null},
    {"metadata": {"name": "c", "resourceVersion": "3"}, "addressType": "IPv6",
     "endpoints": [{"addresses": ["fd00::1"], "conditions": {"ready": true}}],
     "ports": [{"name": "peer", "port": 7071}]},
    {"metadata": {"name": "d", "resourceVersion": "4"}, "addressType": "FQDN",
     "endpoints": [{"addresses": ["pod.example.com"]}], "ports": [{"name": "peer", "port": 7071}]},
    {"metadata": {"name": "e", "resourceVersion": "5"}, "addressType": "IPv4",
     "endpoints": [{"addresses": ["10.1.1.2"]}], "ports": [{"name": "peer", "port": null}]}
  ])"),
                             "peer");
  REQUIRE(list.ok());
  REQUIRE(list.value().slices.size() == 5);
  for (int i : {0, 1, 3, 4}) CHECK(list.value().slices[i].members.empty());
  CHECK(list.value().slices[2].members == Members{"[fd00::1]:7071"});
  auto empty = ParseSliceList(List("null"), "peer");
  REQUIRE(empty.ok());
  CHECK(empty.value().slices.empty());
}

TEST_CASE("EndpointSlice: a port out of range is no port, however wide the number") {
  for (const char* port :
       {"4294967297", "18446744073709551615", "-1", "0", "65536", "9223372036854775808"}) {
    auto list = ParseSliceList(List(std::string(R"([{"metadata": {"name": "a"},
      "addressType": "IPv4", "endpoints": [{"addresses": ["10.1.1.1"]}],
      "ports": [{"name": "peer", "port": )") +
                                    port + "}]}]"),
                               "peer");
    REQUIRE(list.ok());
    CHECK(list.value().slices[0].members.empty());
  }
}

TEST_CASE("EndpointSlice list: paging metadata and malformed bodies") {
  auto page = ParseSliceList(
      R"({"metadata":{"resourceVersion":"7","continue":"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"},"items":[]})",
      "peer");
  REQUIRE(page.ok());
  CHECK(page.value().continue_token == "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ");
  CHECK_FALSE(ParseSliceList("not json", "peer").ok());
  CHECK_FALSE(ParseSliceList("[]", "peer").ok());
  CHECK_FALSE(ParseSliceList(R"({"items":[]})", "peer").ok());             // no resourceVersion
  CHECK_FALSE(ParseSliceList(List(R"([{"metadata":{}}])"), "peer").ok());  // no name
}

TEST_CASE("Watch events: every type, 410 as an ERROR event, bad events") {
  auto added = ParseWatchEvent(std::string(R"({"type":"ADDED","object":)") + kSlice + "}", "peer");
  REQUIRE(added.ok());
  CHECK(added.value().type == "ADDED");
  CHECK(added.value().slice.members.size() == 3);
  auto deleted = ParseWatchEvent(
      R"({"type":"DELETED","object":{"metadata":{"name":"x","resourceVersion":"9"},"addressType":"IPv4","endpoints":null,"ports":null}})",
      "peer");
  REQUIRE(deleted.ok());
  CHECK(deleted.value().slice.name == "x");
  auto bookmark = ParseWatchEvent(
      R"({"type":"BOOKMARK","object":{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"resourceVersion":"12345","annotations":{"k8s.io/initial-events-end":"true"}}}})",
      "peer");
  REQUIRE(bookmark.ok());
  CHECK(bookmark.value().slice.resource_version == "12345");
  auto gone = ParseWatchEvent(
      R"json({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (1500)","reason":"Expired","code":410}})json",
      "peer");
  REQUIRE(gone.ok());
  CHECK(gone.value().error_code == 410);
  CHECK(gone.value().error_message == "too old resource version: 1 (1500)");
  CHECK_FALSE(ParseWatchEvent(R"({"type":"ADDED"})", "peer").ok());
  CHECK_FALSE(ParseWatchEvent(R"({"type":"SOMETHING","object":{}})", "peer").ok());
  CHECK_FALSE(
      ParseWatchEvent(R"({"type":"MODIFIED","object":{"metadata":{"name":"a"}}})", "peer").ok());
  CHECK_FALSE(ParseWatchEvent(R"({"type":"ADDED","object":{"metadata":{"name":"a")", "peer").ok());
}

TEST_CASE("Status bodies give their message") {
  CHECK(
      StatusMessage(
          R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})") ==
      "Unauthorized");
  CHECK(StatusMessage("<html>bad gateway</html>").empty());
}

TEST_CASE("SliceSet merges slices by name; a deleted slice removes its endpoints") {
  SliceSet set;
  set.Put({"a", "1", {"10.0.0.1:7071", "10.0.0.2:7071"}});
  set.Put({"b", "2", {"10.0.0.2:7071", "10.0.0.3:7071"}});  // a pod moving between slices
  CHECK(set.Members() == Members{"10.0.0.1:7071", "10.0.0.2:7071", "10.0.0.3:7071"});
  set.Put({"a", "3", {"10.0.0.9:7071"}});
  CHECK(set.Members() == Members{"10.0.0.2:7071", "10.0.0.3:7071", "10.0.0.9:7071"});
  set.Erase("b");
  CHECK(set.Members() == Members{"10.0.0.9:7071"});
  set.Erase("missing");
  set.Clear();
  CHECK(set.Members().empty());
}

// The watch body as a server writes it: events split at any byte, several in one chunk.
std::vector<std::string> SplitAll(const std::string& body, const std::vector<size_t>& cuts,
                                  Status* status) {
  LineSplitter splitter(1 << 20);
  std::vector<std::string> lines;
  size_t from = 0;
  for (size_t cut : cuts) {
    *status = splitter.Feed(std::string_view(body).substr(from, cut - from),
                            [&](std::string_view l) { lines.emplace_back(l); });
    if (!status->ok()) return lines;
    from = cut;
  }
  *status = splitter.Feed(std::string_view(body).substr(from),
                          [&](std::string_view l) { lines.emplace_back(l); });
  return lines;
}

TEST_CASE("Watch stream: events split at every byte boundary parse identically") {
  std::string slice = kSlice;  // one line, as the server writes it
  std::erase(slice, '\n');
  std::string body =
      std::string(R"({"type":"ADDED","object":)") + slice + "}\n" +
      R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"1002"}}})"
      "\n" +
      R"({"type":"DELETED","object":{"metadata":{"name":"web-abc12","resourceVersion":"1003"}}})"
      "\r\n" +
      "\n" +
      R"({"type":"ERROR","object":{"kind":"Status","code":410,"message":"gone"}})"
      "\n";
  Status status;
  std::vector<std::string> whole = SplitAll(body, {}, &status);
  REQUIRE(status.ok());
  REQUIRE(whole.size() == 4);
  std::vector<std::string> types;
  for (const std::string& line : whole) {
    auto e = ParseWatchEvent(line, "peer");
    REQUIRE(e.ok());
    types.push_back(e.value().type);
  }
  CHECK(types == std::vector<std::string>{"ADDED", "BOOKMARK", "DELETED", "ERROR"});
  // One cut at every position, then two cuts at every pair of positions 7 apart, then every
  // byte in a chunk of its own.
  for (size_t i = 0; i <= body.size(); ++i) {
    CHECK(SplitAll(body, {i}, &status) == whole);
    if (i + 7 <= body.size()) CHECK(SplitAll(body, {i, i + 7}, &status) == whole);
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < body.size(); ++i) every.push_back(i);
  CHECK(SplitAll(body, every, &status) == whole);
}

TEST_CASE("Watch stream: a line longer than the limit is an error, even without a newline") {
  LineSplitter splitter(16);
  int lines = 0;
  CHECK(splitter.Feed("0123456789\n", [&](std::string_view) { ++lines; }).ok());
  CHECK(lines == 1);
  CHECK(splitter.Feed("0123456789", [&](std::string_view) { ++lines; }).ok());
  CHECK(splitter.Feed("0123456789", [&](std::string_view) { ++lines; }).code() ==
        StatusCode::kResourceExhausted);
  CHECK(lines == 1);
}

}  // namespace
}  // namespace podcache
