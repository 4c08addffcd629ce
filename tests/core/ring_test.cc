#include "core/ring.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "core/hash.h"

namespace podcache {
namespace {

std::vector<std::string> Members(int n) {
  std::vector<std::string> m;
  for (int i = 0; i < n; ++i)
    m.push_back("10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":7071");
  return m;
}

std::vector<uint64_t> KeyHashes(int n) {
  std::vector<uint64_t> h(n);
  for (int i = 0; i < n; ++i) h[i] = HashBytes("user:" + std::to_string(i));
  return h;
}

}  // namespace

TEST_CASE("ring: the same members in any order give the same owners and fingerprint") {
  auto members = Members(7);
  auto a = Ring::Build(members);
  std::mt19937 rng(3);
  auto shuffled = members;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  shuffled.push_back(members[2]);  // a duplicate report changes nothing
  auto b = Ring::Build(shuffled);
  CHECK(a->fingerprint() == b->fingerprint());
  CHECK(a->members() == b->members());
  for (uint64_t h : KeyHashes(20000)) REQUIRE(a->Owner(h) == b->Owner(h));
  // A different set or vnode count has a different fingerprint.
  CHECK(Ring::Build(Members(6))->fingerprint() != a->fingerprint());
  CHECK(Ring::Build(members, 64)->fingerprint() != a->fingerprint());
}

TEST_CASE("ring: 10 members share 1M keys within 10% of the mean") {
  auto ring = Ring::Build(Members(10));
  std::vector<int> count(10);
  for (uint64_t h : KeyHashes(1'000'000)) count[ring->OwnerIndex(h)]++;
  int max = *std::max_element(count.begin(), count.end());
  double ratio = max / 100'000.0;
  INFO("max/mean = " << ratio);
  CHECK(ratio <= 1.10);
  CHECK(*std::min_element(count.begin(), count.end()) > 0);
}

TEST_CASE("ring: an 11th member takes at most 1.1/11 of the keys - all moving to it") {
  auto members = Members(11);
  auto before = Ring::Build(std::vector<std::string>(members.begin(), members.begin() + 10));
  auto after = Ring::Build(members);
  const std::string& newcomer = members[10];
  int moved = 0;
  auto hashes = KeyHashes(1'000'000);
  for (uint64_t h : hashes) {
    if (before->Owner(h) != after->Owner(h)) {
      ++moved;
      REQUIRE(after->Owner(h) == newcomer);
    }
  }
  INFO("moved " << moved);
  CHECK(moved <= 1.1 / 11 * hashes.size());
  CHECK(moved > 0.9 / 11 * hashes.size());
}

TEST_CASE("ring: removing a member moves only its keys") {
  auto members = Members(5);
  auto before = Ring::Build(members);
  auto after = Ring::Build(std::vector<std::string>(members.begin() + 1, members.end()));
  for (uint64_t h : KeyHashes(100000)) {
    if (before->Owner(h) != members[0]) REQUIRE(after->Owner(h) == before->Owner(h));
  }
}

TEST_CASE("ring: empty and single-member rings") {
  auto empty = Ring::Build({});
  CHECK(empty->empty());
  auto one = Ring::Build({"", "a:1"});  // empty names are dropped
  REQUIRE(one->members().size() == 1);
  CHECK(one->OwnerOfKey("anything") == "a:1");
  CHECK(one->Contains("a:1"));
  CHECK_FALSE(one->Contains("b:1"));
  CHECK(one->FingerprintHex().size() == 16);
}

}  // namespace podcache
