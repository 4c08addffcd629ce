#include "discovery/host_port.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace podcache {

std::string FormatHostPort(std::string_view host, int port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  return out + ":" + std::to_string(port);
}

namespace {

bool IsAddress(int family, std::string_view text) {
  if (text.empty() || text.size() >= 64) return false;
  std::string copy(text);
  unsigned char buf[16];
  return inet_pton(family, copy.c_str(), buf) == 1;
}

bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Splits "host:port" / "[v6]:port"; false when the shape is wrong.
bool Split(std::string_view member, std::string_view* host, int* port, bool* bracketed) {
  size_t colon = member.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view port_text = member.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5) return false;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), *port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size()) return false;
  *host = member.substr(0, colon);
  *bracketed = host->size() >= 2 && host->front() == '[' && host->back() == ']';
  if (*bracketed) *host = host->substr(1, host->size() - 2);
  return true;
}

}  // namespace

bool IsValidHostPort(std::string_view member) {
  std::string_view host;
  int port = 0;
  bool bracketed = false;
  if (!Split(member, &host, &port, &bracketed) || port < 1 || port > 65535) return false;
  if (bracketed) return IsAddress(AF_INET6, host);
  return IsDnsName(host);  // an IPv4 address is a valid name too
}

AddressFamily FamilyOfHostPort(std::string_view member) {
  std::string_view host;
  int port = 0;
  bool bracketed = false;
  if (!Split(member, &host, &port, &bracketed)) return AddressFamily::kAny;
  if (bracketed && IsAddress(AF_INET6, host)) return AddressFamily::kIpv6;
  if (IsAddress(AF_INET, host)) return AddressFamily::kIpv4;
  return AddressFamily::kAny;
}

bool NormalizeMembers(std::vector<std::string>* members, size_t max_members) {
  std::sort(members->begin(), members->end());
  members->erase(std::unique(members->begin(), members->end()), members->end());
  if (members->size() <= max_members) return false;
  members->resize(max_members);
  return true;
}

std::string BracketIpv6HostPort(std::string_view member) {
  size_t colon = member.rfind(':');
  if (colon == std::string_view::npos || member.starts_with("[")) return std::string(member);
  std::string_view host = member.substr(0, colon), port = member.substr(colon + 1);
  int n = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (ec != std::errc() || end != port.data() + port.size() || n < 1 || n > 65535 ||
      !IsAddress(AF_INET6, host)) {
    return std::string(member);
  }
  return FormatHostPort(host, n);
}

}  // namespace podcache
