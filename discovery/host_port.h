#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace podcache {

// Peer addresses are "host:port" strings, the form gRPC dials and the ring hashes. IPv6
// literals are bracketed ("[fd00::1]:7071") so the last colon always separates the port; every
// node must spell a member the same way or their rings differ.

// "10.0.0.1" + 7071 → "10.0.0.1:7071"; "fd00::1" + 7071 → "[fd00::1]:7071".
std::string FormatHostPort(std::string_view host, int port);

// "fd00::5:7071" (an unbracketed IPv6 address, then a port, as "${POD_IP}:7071" expands on an
// IPv6 pod) → "[fd00::5]:7071"; anything else is returned unchanged.
std::string BracketIpv6HostPort(std::string_view member);

// True for "host:port" with a port in 1..65535 and a host that is a DNS name (letters, digits,
// '-', '.', '_'), an IPv4 address or a bracketed IPv6 address. Used to validate what arrives
// from the network before it can become a ring member.
bool IsValidHostPort(std::string_view member);

// The address family a member's host is written in, so resolvers can answer in the family the
// node itself advertises (a dual-stack pod must appear once, not once per family).
enum class AddressFamily { kAny, kIpv4, kIpv6 };
AddressFamily FamilyOfHostPort(std::string_view member);

// Sorts, de-duplicates and caps a member set. The cut keeps the smallest names so that every
// node given the same oversized answer keeps the same members. Returns true when it had to cut.
bool NormalizeMembers(std::vector<std::string>* members, size_t max_members = SIZE_MAX);

}  // namespace podcache
