#pragma once

#include <string>
#include <vector>

#include "discovery/dns_resolver.h"

namespace podcache {

// The pure half of DnsResolver: what it makes of the answers c-ares hands it, with no channel
// and no socket, so the fuzz target (fuzz/dns_answer.cc) and the unit tests run exactly the
// code the resolver runs on answers from the network.

// One SRV record's target and port.
struct SrvTarget {
  std::string host;
  int port = 0;
  auto operator<=>(const SrvTarget&) const = default;
};

// The targets of a raw SRV answer (c-ares' ares_parse_srv_reply): records with an empty target
// or port 0 are left out (weight and priority do not matter: every target is a member).
// Returns the c-ares status; `targets` gets the records only on ARES_SUCCESS.
int ParseSrvAnswer(const unsigned char* answer, int length, std::vector<SrvTarget>* targets);

// The targets worth resolving: sorted, without duplicates, at most `max_members` (the smallest,
// so that every node given the same oversized answer resolves the same ones). True when cut.
bool SelectSrvTargets(std::vector<SrvTarget>* targets, size_t max_members);

// The member one resolved address gives: "10.0.0.1:7071" or "[fd00::1]:7071". `address` points
// to an in_addr (AF_INET) or in6_addr (AF_INET6); "" for another family.
std::string AddressMember(int family, const void* address, int port);

// What one address lookup (a name and its A/AAAA answer) gave: the c-ares status and the
// members of the addresses in the family asked for.
struct AddressLookup {
  std::string host;
  int status = 0;  // ARES_SUCCESS or a c-ares error
  std::vector<std::string> members;
};

// A failed resolution: the error kind of `status` and a detail for logs.
DnsOutcome DnsFailure(int status, const std::string& what);

// A/AAAA mode: the outcome of looking up the name itself.
DnsOutcome AddressOutcome(const AddressLookup& lookup);

// SRV mode, once the targets were looked up: a target without addresses (NXDOMAIN, NODATA) is
// gone and left out; any other failure fails the whole resolution, so that a transient error
// never shrinks the member set. `capped`: SelectSrvTargets had to cut.
DnsOutcome SrvOutcome(const std::string& name, const std::vector<AddressLookup>& targets,
                      bool capped);

}  // namespace podcache
