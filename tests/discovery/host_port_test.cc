#include "discovery/host_port.h"

#include <doctest/doctest.h>

namespace podcache {

TEST_CASE("FormatHostPort brackets IPv6 literals only") {
  CHECK(FormatHostPort("10.0.0.1", 7071) == "10.0.0.1:7071");
  CHECK(FormatHostPort("fd00::1", 7071) == "[fd00::1]:7071");
  CHECK(FormatHostPort("pod-1.svc.ns.svc.cluster.local", 80) ==
        "pod-1.svc.ns.svc.cluster.local:80");
}

TEST_CASE("BracketIpv6HostPort brackets an IPv6 address followed by a port, nothing else") {
  CHECK(BracketIpv6HostPort("fd00::5:7071") == "[fd00::5]:7071");
  CHECK(BracketIpv6HostPort("[fd00::5]:7071") == "[fd00::5]:7071");
  CHECK(BracketIpv6HostPort("10.0.0.1:7071") == "10.0.0.1:7071");
  CHECK(BracketIpv6HostPort("pod.example:7071") == "pod.example:7071");
  CHECK(BracketIpv6HostPort("fd00::5") == "fd00::5");  // "fd00:" is no address: left alone
  CHECK(BracketIpv6HostPort("fd00::5:99999") == "fd00::5:99999");
  CHECK(BracketIpv6HostPort("") == "");
}

TEST_CASE("IsValidHostPort accepts names and addresses and refuses everything else") {
  for (std::string good :
       {"10.0.0.1:7071", "[::1]:7071", "[fd00:1::a]:1", "node_1.example-2.com:65535"}) {
    CHECK_MESSAGE(IsValidHostPort(good), good);
  }
  const std::string bad[] = {
      "",
      "10.0.0.1",
      "10.0.0.1:",
      ":7071",
      "10.0.0.1:0",
      "10.0.0.1:65536",
      "10.0.0.1:70x",
      "10.0.0.1:-1",
      "::1:7071",  // unbracketed IPv6
      "[nothex]:7071",
      "a b:7071",
      "a\n:7071",
      std::string(300, 'a') + ":1",
  };
  for (const std::string& b : bad) CHECK_FALSE_MESSAGE(IsValidHostPort(b), b);
}

TEST_CASE("FamilyOfHostPort tells IPv4 from IPv6 from names") {
  CHECK(FamilyOfHostPort("10.0.0.1:7071") == AddressFamily::kIpv4);
  CHECK(FamilyOfHostPort("[fd00::1]:7071") == AddressFamily::kIpv6);
  CHECK(FamilyOfHostPort("pod.example:7071") == AddressFamily::kAny);
  CHECK(FamilyOfHostPort("") == AddressFamily::kAny);
}

TEST_CASE("NormalizeMembers sorts - de-duplicates and cuts to the smallest names") {
  std::vector<std::string> m = {"c:1", "a:1", "b:1", "a:1"};
  CHECK_FALSE(NormalizeMembers(&m, 3));
  CHECK(m == std::vector<std::string>{"a:1", "b:1", "c:1"});
  CHECK(NormalizeMembers(&m, 2));
  CHECK(m == std::vector<std::string>{"a:1", "b:1"});
}

}  // namespace podcache
