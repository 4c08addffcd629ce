#include <ares.h>
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "discovery/dns_answer.h"
#include "discovery/dns_member_tracker.h"
#include "discovery/dns_resolver.h"
#include "discovery/dns_source.h"
#include "discovery/wake_fd.h"

namespace podcache {

namespace {

DnsOutcome Ok(std::vector<std::string> members) { return DnsOutcome{std::move(members), "", ""}; }
DnsOutcome Err(const char* kind) { return DnsOutcome{{}, kind, "test"}; }

}  // namespace

TEST_CASE("dns tracker: the first answer syncs and reports - later failures keep the members") {
  DnsMemberTracker t("name", 10);
  CHECK_FALSE(t.synced());
  CHECK_FALSE(t.Apply(Err("timeout")).has_value());  // no DNS at all: not synced
  CHECK_FALSE(t.Apply(Err("servfail")).has_value());
  CHECK_FALSE(t.synced());
  auto first = t.Apply(Ok({"b:1", "a:1", "a:1"}));
  REQUIRE(first.has_value());
  CHECK(*first == std::vector<std::string>{"a:1", "b:1"});
  CHECK(t.synced());
  CHECK_FALSE(t.Apply(Ok({"a:1", "b:1"})).has_value());  // unchanged: nothing to report
  for (const char* kind : {"nxdomain", "empty", "servfail", "refused", "timeout", "unreachable",
                           "bad_answer", "other"}) {
    CHECK_FALSE(t.Apply(Err(kind)).has_value());
    CHECK(t.errors(kind) >= 1);
  }
  CHECK(t.errors("timeout") == 2);
  auto changed = t.Apply(Ok({"a:1", "b:1", "c:1"}));
  REQUIRE(changed.has_value());
  CHECK(changed->size() == 3);
}

TEST_CASE("dns tracker: a name that does not exist yet syncs with no members") {
  DnsMemberTracker t("name", 10);
  auto first = t.Apply(Err("nxdomain"));
  REQUIRE(first.has_value());
  CHECK(first->empty());
  CHECK(t.synced());
  CHECK_FALSE(t.Apply(Err("nxdomain")).has_value());
  auto later = t.Apply(Ok({"a:1"}));
  REQUIRE(later.has_value());
  CHECK(*later == std::vector<std::string>{"a:1"});
}

TEST_CASE("dns tracker: more members than max_members are cut and counted") {
  DnsMemberTracker t("name", 2);
  auto set = t.Apply(Ok({"d:1", "c:1", "b:1", "a:1"}));
  REQUIRE(set.has_value());
  CHECK(*set == std::vector<std::string>{"a:1", "b:1"});
  CHECK(t.errors("too_many_members") == 1);
  DnsOutcome capped = Ok({"a:1", "b:1"});
  capped.capped = true;  // the resolver cut the SRV targets already
  CHECK_FALSE(t.Apply(capped).has_value());
  CHECK(t.errors("too_many_members") == 2);
}

TEST_CASE("dns tracker: metrics name every error kind and the member gauge") {
  DnsMemberTracker t("name", 10);
  t.Apply(Ok({"a:1", "b:1"}));
  t.Apply(Err("timeout"));
  bool saw_members = false, saw_timeout = false, saw_updates = false;
  int kinds = 0;
  for (const SourceMetric& m : t.Metrics()) {
    if (m.name == "podcache_discovery_members") saw_members = m.value == 2 && m.type == "gauge";
    if (m.name == "podcache_discovery_updates_total") saw_updates = m.value == 1;
    if (m.name == "podcache_discovery_errors_total") {
      ++kinds;
      if (m.labels[0].second == "timeout") saw_timeout = m.value == 1;
    }
  }
  CHECK(saw_members);
  CHECK(saw_updates);
  CHECK(saw_timeout);
  CHECK(kinds == static_cast<int>(std::size(kDnsErrorKinds)));
}

TEST_CASE("dns resolver: maps c-ares failures to error kinds") {
  auto kind = [](int status) { return std::string(DnsResolver::ErrorKind(status)); };
  CHECK(kind(ARES_ENOTFOUND) == "nxdomain");
  CHECK(kind(ARES_ENODATA) == "empty");
  CHECK(kind(ARES_ESERVFAIL) == "servfail");
  CHECK(kind(ARES_EREFUSED) == "refused");
  CHECK(kind(ARES_ETIMEOUT) == "timeout");
  CHECK(kind(ARES_ECONNREFUSED) == "unreachable");
  CHECK(kind(ARES_EBADRESP) == "bad_answer");
  CHECK(kind(ARES_ENOMEM) == "other");
}

namespace {

// An SRV answer for "_p._tcp.x" with the given (target, port) records; "" is the root name.
std::vector<unsigned char> SrvAnswer(const std::vector<std::pair<std::string, int>>& records) {
  std::vector<unsigned char> m = {
      0x12, 0x34, 0x81, 0x80, 0, 1, 0, static_cast<unsigned char>(records.size()), 0, 0, 0, 0};
  auto name = [&m](const std::string& dotted) {
    size_t start = 0;
    while (start < dotted.size()) {
      size_t dot = std::min(dotted.find('.', start), dotted.size());
      m.push_back(static_cast<unsigned char>(dot - start));
      m.insert(m.end(), dotted.begin() + start, dotted.begin() + dot);
      start = dot + 1;
    }
    m.push_back(0);
  };
  name("_p._tcp.x");
  m.insert(m.end(), {0, 33, 0, 1});
  for (const auto& [target, port] : records) {
    m.insert(m.end(), {0xc0, 0x0c, 0, 33, 0, 1, 0, 0, 0, 30});
    size_t length_at = m.size();
    m.insert(m.end(), {0, 0, 0, 0, 0, 10, static_cast<unsigned char>(port >> 8),
                       static_cast<unsigned char>(port & 0xff)});
    name(target);
    m[length_at + 1] = static_cast<unsigned char>(m.size() - length_at - 2);
  }
  return m;
}

AddressLookup Lookup(const std::string& host, int status, std::vector<std::string> members) {
  return AddressLookup{host, status, std::move(members)};
}

}  // namespace

TEST_CASE("dns answer: SRV records without a target or a port are left out") {
  auto answer = SrvAnswer({{"b.x", 7071}, {"", 7071}, {"a.x", 0}, {"a.x", 7072}});
  std::vector<SrvTarget> targets;
  REQUIRE(ParseSrvAnswer(answer.data(), static_cast<int>(answer.size()), &targets) == ARES_SUCCESS);
  CHECK(targets == std::vector<SrvTarget>{{"b.x", 7071}, {"a.x", 7072}});
  std::vector<SrvTarget> none;
  CHECK(ParseSrvAnswer(answer.data(), 12, &none) != ARES_SUCCESS);  // the header alone
  CHECK(none.empty());
}

TEST_CASE("dns answer: the smallest distinct SRV targets are resolved, at most max_members") {
  std::vector<SrvTarget> targets = {{"c", 1}, {"a", 2}, {"b", 1}, {"a", 2}, {"a", 1}};
  CHECK(SelectSrvTargets(&targets, 3));
  CHECK(targets == std::vector<SrvTarget>{{"a", 1}, {"a", 2}, {"b", 1}});
  CHECK_FALSE(SelectSrvTargets(&targets, 3));
}

TEST_CASE("dns answer: addresses become members, IPv6 bracketed") {
  in_addr v4{htonl(0x0a000001)};
  in6_addr v6 = IN6ADDR_LOOPBACK_INIT;
  CHECK(AddressMember(AF_INET, &v4, 7071) == "10.0.0.1:7071");
  CHECK(AddressMember(AF_INET6, &v6, 7071) == "[::1]:7071");
  CHECK(AddressMember(AF_UNIX, &v4, 7071) == "");
}

TEST_CASE("dns answer: a gone SRV target is left out, any other failure fails the resolution") {
  DnsOutcome ok = SrvOutcome(
      "svc",
      {Lookup("a", ARES_SUCCESS, {"10.0.0.1:1"}), Lookup("b", ARES_ENOTFOUND, {}),
       Lookup("c", ARES_ENODATA, {}), Lookup("d", ARES_SUCCESS, {"10.0.0.4:1", "[fd00::4]:1"})},
      /*capped=*/true);
  REQUIRE(ok.ok());
  CHECK(ok.members == std::vector<std::string>{"10.0.0.1:1", "10.0.0.4:1", "[fd00::4]:1"});
  CHECK(ok.capped);
  DnsOutcome timeout = SrvOutcome(
      "svc", {Lookup("a", ARES_SUCCESS, {"10.0.0.1:1"}), Lookup("b", ARES_ETIMEOUT, {})}, false);
  CHECK(timeout.error_kind == "timeout");
  CHECK(timeout.detail.starts_with("b: "));
  CHECK(timeout.members.empty());
  CHECK(SrvOutcome("svc", {Lookup("b", ARES_ENOTFOUND, {})}, false).error_kind == "empty");
  CHECK(AddressOutcome(Lookup("n", ARES_SUCCESS, {})).error_kind == "empty");
  CHECK(AddressOutcome(Lookup("n", ARES_ESERVFAIL, {})).error_kind == "servfail");
}

TEST_CASE("dns resolver: A/AAAA mode formats addresses in the family asked for") {
  DnsResolverOptions o;
  o.server = "127.0.0.1:9";  // never asked: numeric names need no query
  auto r = DnsResolver::Create(o);
  REQUIRE(r.ok());
  WakeFd wake;
  DnsOutcome v6 = r.value()->Resolve("::1", 7071, AddressFamily::kAny, 10, wake.fd());
  REQUIRE(v6.ok());
  CHECK(v6.members == std::vector<std::string>{"[::1]:7071"});
  DnsOutcome v4 = r.value()->Resolve("127.0.0.9", 80, AddressFamily::kIpv4, 10, wake.fd());
  REQUIRE(v4.ok());
  CHECK(v4.members == std::vector<std::string>{"127.0.0.9:80"});
  DnsOutcome wrong = r.value()->Resolve("127.0.0.9", 80, AddressFamily::kIpv6, 10, wake.fd());
  CHECK_FALSE(wrong.ok());
}

TEST_CASE("dns resolver: a bad dns_server is a configuration error") {
  DnsResolverOptions o;
  o.server = "not a server";
  CHECK_FALSE(DnsResolver::Create(o).ok());
}

TEST_SUITE("concurrency") {
  TEST_CASE("dns source: Stop interrupts a resolution waiting on a silent server") {
    // A bound UDP socket that never answers: every query would wait timeout x tries.
    int silent = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    DnsSourceOptions o;
    o.name = "_peer._tcp.svc.ns.svc.cluster.local";
    o.resolver.server = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    o.resolver.timeout_ms = 600000;
    o.resolver.tries = 5;
    std::atomic<int> reports{0};
    {
      DnsPeerSource source(o);
      REQUIRE(source.Start([&](std::vector<std::string>) { reports++; }).ok());
      // Wait until the query reached the server, so Stop() really interrupts it.
      char buf[512];
      REQUIRE(::recv(silent, buf, sizeof buf, 0) > 0);
      source.Stop();
      CHECK_FALSE(source.Synced());
    }
    CHECK(reports.load() == 0);
    ::close(silent);
  }
}

}  // namespace podcache
