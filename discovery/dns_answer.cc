#include "discovery/dns_answer.h"

#include <ares.h>
#include <arpa/inet.h>

#include <algorithm>

#include "discovery/host_port.h"

namespace podcache {

int ParseSrvAnswer(const unsigned char* answer, int length, std::vector<SrvTarget>* targets) {
  ares_srv_reply* reply = nullptr;
  int status = ares_parse_srv_reply(answer, length, &reply);
  if (status != ARES_SUCCESS) return status;
  for (ares_srv_reply* r = reply; r != nullptr; r = r->next) {
    if (r->host != nullptr && r->host[0] != '\0' && r->port != 0) {
      targets->push_back(SrvTarget{r->host, r->port});
    }
  }
  ares_free_data(reply);
  return ARES_SUCCESS;
}

bool SelectSrvTargets(std::vector<SrvTarget>* targets, size_t max_members) {
  std::sort(targets->begin(), targets->end());
  targets->erase(std::unique(targets->begin(), targets->end()), targets->end());
  if (targets->size() <= max_members) return false;
  targets->resize(max_members);
  return true;
}

std::string AddressMember(int family, const void* address, int port) {
  if (family != AF_INET && family != AF_INET6) return "";
  char text[INET6_ADDRSTRLEN] = {0};
  if (inet_ntop(family, address, text, sizeof text) == nullptr) return "";
  return FormatHostPort(text, port);
}

DnsOutcome DnsFailure(int status, const std::string& what) {
  return DnsOutcome{{}, DnsResolver::ErrorKind(status), what + ": " + ares_strerror(status)};
}

DnsOutcome AddressOutcome(const AddressLookup& lookup) {
  if (lookup.status != ARES_SUCCESS) return DnsFailure(lookup.status, lookup.host);
  if (lookup.members.empty()) {
    return DnsFailure(ARES_ENODATA, lookup.host + " (no address of this family)");
  }
  return DnsOutcome{lookup.members, "", ""};
}

DnsOutcome SrvOutcome(const std::string& name, const std::vector<AddressLookup>& targets,
                      bool capped) {
  DnsOutcome out;
  out.capped = capped;
  for (const AddressLookup& l : targets) {
    // A target without addresses is gone (its pod was deleted between the two answers).
    if (l.status == ARES_ENOTFOUND || l.status == ARES_ENODATA) continue;
    if (l.status != ARES_SUCCESS) return DnsFailure(l.status, l.host);
    out.members.insert(out.members.end(), l.members.begin(), l.members.end());
  }
  if (out.members.empty())
    return DnsFailure(ARES_ENODATA, name + " (no SRV target has an address)");
  return out;
}

}  // namespace podcache
