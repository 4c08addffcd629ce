#include "discovery/k8s_objects.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "discovery/host_port.h"

namespace podcache {
namespace {

using nlohmann::json;

// The string at `key` of an object, or "" when absent, null or not a string.
std::string Str(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// A condition that may be absent or null: `missing` then.
bool Condition(const json& conditions, const char* key, bool missing) {
  if (!conditions.is_object()) return missing;
  auto it = conditions.find(key);
  return it != conditions.end() && it->is_boolean() ? it->get<bool>() : missing;
}

SliceMembers ParseSlice(const json& slice, const std::string& port_name) {
  SliceMembers out;
  const json& meta = slice.is_object() && slice.contains("metadata") ? slice["metadata"] : json();
  out.name = Str(meta, "name");
  out.resource_version = Str(meta, "resourceVersion");
  std::string type = Str(slice, "addressType");
  if (type != "IPv4" && type != "IPv6") return out;  // FQDN slices name no pod address
  int64_t port = 0;
  if (auto ports = slice.find("ports"); ports != slice.end() && ports->is_array()) {
    for (const json& p : *ports) {
      // An unnamed port has name "" (or no name); it matches only an empty port_name.
      if (Str(p, "name") == port_name && p.contains("port") && p["port"].is_number_integer()) {
        // Read wide: narrowing first would turn 4294967297 into a valid-looking 1.
        port = p["port"].is_number_unsigned() && p["port"].get<uint64_t>() > 65535
                   ? -1
                   : p["port"].get<int64_t>();
      }
    }
  }
  if (port <= 0 || port > 65535) return out;
  auto endpoints = slice.find("endpoints");
  if (endpoints == slice.end() || !endpoints->is_array()) return out;
  for (const json& e : *endpoints) {
    const json& cond = e.is_object() && e.contains("conditions") ? e["conditions"] : json();
    // ready is false for terminating endpoints unless publishNotReadyAddresses is set, so
    // terminating is checked on its own.
    if (!Condition(cond, "ready", true) || Condition(cond, "terminating", false)) continue;
    auto addresses = e.is_object() ? e.find("addresses") : e.end();
    if (addresses == e.end() || !addresses->is_array() || addresses->empty()) continue;
    if (!(*addresses)[0].is_string()) continue;
    std::string addr = (*addresses)[0].get<std::string>();
    if (addr.empty()) continue;
    out.members.push_back(type == "IPv6" ? "[" + addr + "]:" + std::to_string(port)
                                         : addr + ":" + std::to_string(port));
  }
  std::sort(out.members.begin(), out.members.end());
  return out;
}

}  // namespace

StatusOr<SliceList> ParseSliceList(std::string_view text, const std::string& port_name) {
  json list = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!list.is_object()) return InvalidArgumentError("EndpointSlice list is not a JSON object");
  SliceList out;
  const json& meta = list.contains("metadata") ? list["metadata"] : json();
  out.resource_version = Str(meta, "resourceVersion");
  out.continue_token = Str(meta, "continue");
  if (out.resource_version.empty()) {
    return InvalidArgumentError("EndpointSlice list has no metadata.resourceVersion");
  }
  auto items = list.find("items");
  if (items != list.end() && items->is_array()) {  // "items": null is an empty list
    for (const json& item : *items) {
      SliceMembers slice = ParseSlice(item, port_name);
      if (slice.name.empty()) return InvalidArgumentError("EndpointSlice without metadata.name");
      out.slices.push_back(std::move(slice));
    }
  }
  return out;
}

StatusOr<WatchEvent> ParseWatchEvent(std::string_view text, const std::string& port_name) {
  json event = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!event.is_object()) return InvalidArgumentError("watch event is not a JSON object");
  WatchEvent out;
  out.type = Str(event, "type");
  auto object = event.find("object");
  if (object == event.end() || !object->is_object()) {
    return InvalidArgumentError("watch event without object");
  }
  if (out.type == "ERROR") {
    auto code = object->find("code");
    out.error_code = code != object->end() && code->is_number_integer() ? code->get<int>() : 0;
    out.error_message = Str(*object, "message");
    return out;
  }
  if (out.type != "ADDED" && out.type != "MODIFIED" && out.type != "DELETED" &&
      out.type != "BOOKMARK") {
    return InvalidArgumentError("unknown watch event type \"" + out.type + "\"");
  }
  out.slice = ParseSlice(*object, port_name);
  if (out.slice.resource_version.empty()) {
    return InvalidArgumentError(out.type + " event without metadata.resourceVersion");
  }
  if (out.type != "BOOKMARK" && out.slice.name.empty()) {
    return InvalidArgumentError(out.type + " event without metadata.name");
  }
  return out;
}

std::string StatusMessage(std::string_view text) {
  json status = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!status.is_object() || Str(status, "kind") != "Status") return "";
  return Str(status, "message");
}

std::vector<std::string> SliceSet::Members() const {
  std::vector<std::string> out;
  for (const auto& [name, members] : slices_) out.insert(out.end(), members.begin(), members.end());
  NormalizeMembers(&out);
  return out;
}

Status LineSplitter::TooLong() const {
  return ResourceExhaustedError("watch event longer than " + std::to_string(max_line_) + " bytes");
}

}  // namespace podcache
