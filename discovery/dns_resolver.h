#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "discovery/host_port.h"

namespace podcache {

struct DnsResolverOptions {
  Millis timeout_ms = 1000;  // one query try
  int tries = 2;
  // "host:port[,host:port...]"; empty: /etc/resolv.conf. With a server given, names are
  // queried exactly as written (no search domains, no /etc/hosts): it is for tests and for
  // setups that point at one specific server.
  std::string server;
};

// What one resolution of the peer name gave. `error_kind` is empty on success, else one of
// kDnsErrorKinds; `members` is meaningful only on success.
struct DnsOutcome {
  std::vector<std::string> members;  // "host:port", IPv6 bracketed; unsorted, may repeat
  std::string error_kind;
  std::string detail;   // for logs: the c-ares message, the name that failed
  bool capped = false;  // the SRV answer had more than max_members targets (the rest were cut)
  bool ok() const { return error_kind.empty(); }
};

// The error kinds the DNS source counts (podcache_discovery_errors_total{kind=...}).
//   nxdomain    the name does not exist
//   empty       the name exists but has no usable records (NODATA, or no target resolved)
//   servfail    the server failed (SERVFAIL)
//   refused     the server refused or does not implement the query
//   timeout     no answer within timeout x tries
//   unreachable connection refused (no server on that port; also a truncated UDP answer
//               whose TCP retry could not connect)
//   bad_answer  malformed or unparsable answer
//   other       anything else c-ares reports
//   too_many_members  the answer had more than max_members members (the set was cut)
inline const char* const kDnsErrorKinds[] = {"nxdomain",   "empty",   "servfail",
                                             "refused",    "timeout", "unreachable",
                                             "bad_answer", "other",   "too_many_members"};

// One c-ares channel (c-ares 1.18: no event thread of its own) driven by the thread that calls
// Resolve(), through ares_getsock + poll + ares_process_fd. Truncated UDP answers are retried
// over TCP by c-ares; a partial answer is never used.
//
// Not thread-safe: one thread owns it. Resolve() returns early (kind "cancelled") once the
// eventfd passed to it becomes readable, so its owner can stop promptly.
class DnsResolver {
 public:
  static StatusOr<std::unique_ptr<DnsResolver>> Create(const DnsResolverOptions& options);
  ~DnsResolver();

  // SRV mode (port 0): SRV records of `name` give targets and ports, each target is resolved to
  // its addresses in `family`. A target without addresses is left out (it is gone); any other
  // failure fails the whole resolution, so a transient error never shrinks the set.
  // A/AAAA mode (port > 0): the addresses of `name` in `family`, each with `port`.
  // At most `max_members` SRV targets are resolved (the smallest names), so a hostile answer
  // cannot make thousands of queries.
  DnsOutcome Resolve(const std::string& name, int port, AddressFamily family, size_t max_members,
                     int wake_fd);

  // c-ares status → one of kDnsErrorKinds. Exposed for tests.
  static const char* ErrorKind(int ares_status);

 private:
  struct Impl;
  explicit DnsResolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace podcache
