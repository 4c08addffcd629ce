// Fuzz target: DNS answers as the dns discovery source consumes them. Raw answers go through
// c-ares 1.18's parsers and the resolver's own code (discovery/dns_answer.h: SRV targets, their
// selection, address members, the outcome of a resolution), and each outcome into the member
// tracker (discovery/dns_member_tracker.h), resolution after resolution.
//
// The resolver looks addresses up with ares_getaddrinfo, which hands it parsed addresses; here
// the A/AAAA answers are parsed with ares_parse_a_reply / ares_parse_aaaa_reply, which run the
// same c-ares answer parser (ares__parse_into_addrinfo) that ares_getaddrinfo runs.
//
// Input: one byte of settings (SRV or A/AAAA mode, address family, max_members), then per
// resolution, per query (the SRV query, then each target's A and/or AAAA query):
//   [status byte][16-bit length][answer]   status % 8 == 0: the answer bytes; else a c-ares
//                                          failure (timeout, SERVFAIL, ...) without an answer.
// Checks: a successful outcome has members, each a valid host:port in the family asked for;
// `capped` exactly when the SRV answer had more targets than max_members; what the tracker
// reports is sorted, unique and within max_members.
#include "discovery/dns_answer.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/log.h"
#include "discovery/dns_member_tracker.h"
#include "discovery/host_port.h"
#include "fuzz/fuzz_check.h"

namespace podcache {
namespace {

constexpr int kFailures[] = {ARES_ETIMEOUT, ARES_ESERVFAIL,    ARES_EREFUSED, ARES_ENOTFOUND,
                             ARES_ENODATA,  ARES_ECONNREFUSED, ARES_EBADRESP};

// The next query's answer: its c-ares status, and the answer when the status is success.
int NextAnswer(fuzz::InputReader* in, std::string_view* answer) {
  uint8_t status = in->Byte();
  if (status % 8 != 0) return kFailures[status % 8 - 1];
  *answer = in->Chunk();
  return ARES_SUCCESS;
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// One A or AAAA query of `host` with its answer, into `lookup` as the resolver's callback
// would fill it.
void AddressQuery(fuzz::InputReader* in, int family, int port, AddressLookup* lookup) {
  std::string_view answer;
  int status = NextAnswer(in, &answer);
  if (status == ARES_SUCCESS) {
    hostent* host = nullptr;
    int length = static_cast<int>(answer.size());
    status = family == AF_INET
                 ? ares_parse_a_reply(Bytes(answer), length, &host, nullptr, nullptr)
                 : ares_parse_aaaa_reply(Bytes(answer), length, &host, nullptr, nullptr);
    if (status == ARES_SUCCESS && host != nullptr) {
      FUZZ_CHECK(host->h_addrtype == family);
      for (char** a = host->h_addr_list; a != nullptr && *a != nullptr; ++a) {
        std::string member = AddressMember(family, *a, port);
        FUZZ_CHECK(!member.empty());
        lookup->members.push_back(std::move(member));
      }
    }
    if (host != nullptr) ares_free_hostent(host);
  }
  // As ares_getaddrinfo with AF_UNSPEC: success when either family answered.
  if (lookup->status != ARES_SUCCESS || lookup->members.empty()) lookup->status = status;
}

AddressLookup LookUp(fuzz::InputReader* in, const std::string& host, AddressFamily family,
                     int port) {
  AddressLookup lookup;
  lookup.host = host;
  lookup.status = ARES_ENODATA;
  if (family != AddressFamily::kIpv6) AddressQuery(in, AF_INET, port, &lookup);
  if (family != AddressFamily::kIpv4) AddressQuery(in, AF_INET6, port, &lookup);
  return lookup;
}

DnsOutcome Resolve(fuzz::InputReader* in, bool srv_mode, AddressFamily family, size_t max_members) {
  const std::string name = "_peer._tcp.podcache.default.svc.cluster.local";
  if (!srv_mode) return AddressOutcome(LookUp(in, name, family, 7071));
  std::string_view answer;
  int status = NextAnswer(in, &answer);
  std::vector<SrvTarget> targets;
  if (status == ARES_SUCCESS) {
    status = ParseSrvAnswer(Bytes(answer), static_cast<int>(answer.size()), &targets);
  }
  if (status != ARES_SUCCESS) return DnsFailure(status, name);
  for (const SrvTarget& t : targets) FUZZ_CHECK(!t.host.empty() && t.port > 0 && t.port <= 65535);
  std::vector<SrvTarget> all = targets;
  std::sort(all.begin(), all.end());
  size_t distinct = std::unique(all.begin(), all.end()) - all.begin();
  bool capped = SelectSrvTargets(&targets, max_members);
  FUZZ_CHECK(capped == (distinct > max_members));
  FUZZ_CHECK(targets.size() == std::min(distinct, max_members));
  FUZZ_CHECK(std::equal(targets.begin(), targets.end(), all.begin()));
  if (targets.empty()) return DnsFailure(ARES_ENODATA, name);
  std::vector<AddressLookup> lookups;
  for (const SrvTarget& t : targets) lookups.push_back(LookUp(in, t.host, family, t.port));
  DnsOutcome out = SrvOutcome(name, lookups, capped);
  if (out.ok()) FUZZ_CHECK(out.capped == capped);
  return out;
}

void CheckMember(const std::string& member, AddressFamily family) {
  FUZZ_CHECK(IsValidHostPort(member));
  if (family != AddressFamily::kAny) FUZZ_CHECK(FamilyOfHostPort(member) == family);
}

}  // namespace
}  // namespace podcache

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podcache;
  static bool quiet = (SetLogLevel(LogLevel::kError), true);
  (void)quiet;
  fuzz::InputReader in(data, size);
  uint8_t settings = in.Byte();
  bool srv_mode = (settings & 1) == 0;
  AddressFamily family = std::array{AddressFamily::kAny, AddressFamily::kIpv4,
                                    AddressFamily::kIpv6}[(settings >> 1 & 3) % 3];
  size_t max_members = (settings >> 3 & 7) + 1;
  DnsMemberTracker tracker("fuzz", max_members);
  while (!in.empty()) {
    DnsOutcome outcome = Resolve(&in, srv_mode, family, max_members);
    if (outcome.ok()) {
      FUZZ_CHECK(!outcome.members.empty());
      for (const std::string& m : outcome.members) CheckMember(m, family);
    } else {
      FUZZ_CHECK(outcome.members.empty());
    }
    if (auto members = tracker.Apply(outcome)) {
      FUZZ_CHECK(members->size() <= max_members);
      FUZZ_CHECK(std::adjacent_find(members->begin(), members->end(), std::greater_equal<>()) ==
                 members->end());
      for (const std::string& m : *members) CheckMember(m, family);
    }
  }
  FUZZ_CHECK(!tracker.Metrics().empty());
  return 0;
}
