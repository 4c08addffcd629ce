#include "discovery/dns_resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <mutex>
#include <utility>

#include "discovery/dns_answer.h"

namespace podcache {

namespace {

// Where a c-ares callback writes: one per query, owned by Impl so that a callback c-ares runs
// late (ares_cancel, ares_destroy) still finds valid memory.
struct Lookup {
  AddressLookup result;  // SRV lookups use only result.status
  int port = 0;
  int family = AF_UNSPEC;          // addresses of another family are dropped
  std::vector<SrvTarget> targets;  // SRV
  int* pending = nullptr;
};

void OnSrv(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto* lookup = static_cast<Lookup*>(arg);
  --*lookup->pending;
  lookup->result.status = status;
  if (status != ARES_SUCCESS) return;
  lookup->result.status = ParseSrvAnswer(abuf, alen, &lookup->targets);
}

void OnAddresses(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  auto* lookup = static_cast<Lookup*>(arg);
  --*lookup->pending;
  lookup->result.status = status;
  if (result == nullptr) return;
  for (ares_addrinfo_node* n = result->nodes; n != nullptr; n = n->ai_next) {
    if (lookup->family != AF_UNSPEC && n->ai_family != lookup->family) continue;
    const void* addr = nullptr;
    if (n->ai_family == AF_INET) {
      addr = &reinterpret_cast<const sockaddr_in*>(n->ai_addr)->sin_addr;
    } else if (n->ai_family == AF_INET6) {
      addr = &reinterpret_cast<const sockaddr_in6*>(n->ai_addr)->sin6_addr;
    }
    std::string member = addr != nullptr ? AddressMember(n->ai_family, addr, lookup->port) : "";
    if (!member.empty()) lookup->result.members.push_back(std::move(member));
  }
  ares_freeaddrinfo(result);
}

int AresFamily(AddressFamily family) {
  switch (family) {
    case AddressFamily::kIpv4:
      return AF_INET;
    case AddressFamily::kIpv6:
      return AF_INET6;
    case AddressFamily::kAny:
      break;
  }
  return AF_UNSPEC;
}

// Why Run() returned early: the owner is stopping, or (never seen in practice) poll failed,
// which is an ordinary failure the next interval retries.
DnsOutcome Interrupted(bool poll_failed, const std::string& name) {
  if (poll_failed) return DnsOutcome{{}, "other", name + ": poll failed"};
  return DnsFailure(ARES_ECANCELLED, name);
}

}  // namespace

struct DnsResolver::Impl {
  ares_channel channel = nullptr;
  std::deque<Lookup> lookups;  // stable addresses while callbacks may run
  int pending = 0;

  ~Impl() {
    if (channel != nullptr) ares_destroy(channel);  // runs outstanding callbacks (none, normally)
  }

  Lookup* NewLookup(std::string host, int port) {
    Lookup& l = lookups.emplace_back();
    l.result.host = std::move(host);
    l.port = port;
    l.pending = &pending;
    ++pending;  // before the query starts: c-ares may answer synchronously (numeric hosts)
    return &l;
  }

  // Drives the channel until every query has answered; false when `wake_fd` fired first or
  // poll failed (the queries are cancelled then, and `poll_failed` says which).
  bool poll_failed = false;
  bool Run(int wake_fd) {
    while (pending > 0) {
      ares_socket_t socks[ARES_GETSOCK_MAXNUM];
      int bits = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
      pollfd fds[ARES_GETSOCK_MAXNUM + 1];
      int n = 0;
      fds[n++] = pollfd{wake_fd, POLLIN, 0};
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
        if (events != 0) fds[n++] = pollfd{socks[i], events, 0};
      }
      timeval max_wait{1, 0};
      timeval wait;
      timeval* t = ares_timeout(channel, &max_wait, &wait);
      int timeout_ms = static_cast<int>(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
      int ready = ::poll(fds, n, timeout_ms);
      if (ready < 0 && errno != EINTR) {
        poll_failed = true;
        ares_cancel(channel);
        return false;
      }
      if (fds[0].revents & POLLIN) {
        ares_cancel(channel);  // runs every callback with ARES_ECANCELLED, synchronously
        return false;
      }
      if (ready <= 0) {
        ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts and retries
        continue;
      }
      for (int i = 1; i < n; ++i) {
        short r = fds[i].revents;
        if (r == 0) continue;
        ares_socket_t read_fd = (r & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD;
        ares_socket_t write_fd = (r & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD;
        ares_process_fd(channel, read_fd, write_fd);
      }
    }
    return true;
  }

  void StartAddressLookup(const std::string& host, int port, AddressFamily family) {
    ares_addrinfo_hints hints{};
    hints.ai_family = AresFamily(family);
    // No RFC 6724 sorting: it connects a UDP socket per address, and members are sorted anyway.
    hints.ai_flags = ARES_AI_NOSORT;
    Lookup* l = NewLookup(host, port);
    l->family = hints.ai_family;
    ares_getaddrinfo(channel, l->result.host.c_str(), nullptr, &hints, OnAddresses, l);
  }
};

DnsResolver::DnsResolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DnsResolver::~DnsResolver() = default;

StatusOr<std::unique_ptr<DnsResolver>> DnsResolver::Create(const DnsResolverOptions& options) {
  static std::once_flag init_once;
  static int init_status = ARES_SUCCESS;
  std::call_once(init_once, [] { init_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (init_status != ARES_SUCCESS) {
    return InternalError(std::string("c-ares: ") + ares_strerror(init_status));
  }
  auto init = [&options](int flags, ares_channel* channel) -> Status {
    ares_options opts{};
    int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
    opts.timeout = static_cast<int>(options.timeout_ms);
    opts.tries = options.tries;
    opts.flags = flags;
    char lookups[] = "b";
    if (!options.server.empty()) {
      mask |= ARES_OPT_DOMAINS | ARES_OPT_LOOKUPS;
      opts.flags |= ARES_FLAG_NOSEARCH;
      opts.domains = nullptr;
      opts.ndomains = 0;
      opts.lookups = lookups;
    }
    int status = ares_init_options(channel, &opts, mask);
    if (status != ARES_SUCCESS) {
      *channel = nullptr;
      return InternalError(std::string("c-ares init: ") + ares_strerror(status));
    }
    if (!options.server.empty()) {
      status = ares_set_servers_ports_csv(*channel, options.server.c_str());
      if (status != ARES_SUCCESS) {
        return InvalidArgumentError("dns_server \"" + options.server +
                                    "\" is not host:port[,host:port]: " + ares_strerror(status));
      }
    }
    return OkStatus();
  };
  auto impl = std::make_unique<Impl>();
  if (Status s = init(0, &impl->channel); !s.ok()) return s;
  // c-ares treats SERVFAIL and REFUSED as "try the next server" and, with no server left,
  // reports "could not contact DNS servers". With a single server (the cluster DNS Service)
  // there is nothing to fail over to, so take its answer as it is: the error kind is then
  // servfail or refused, which is what an operator needs to see.
  ares_addr_port_node* servers = nullptr;
  int count = 0;
  if (ares_get_servers_ports(impl->channel, &servers) == ARES_SUCCESS) {
    for (ares_addr_port_node* n = servers; n != nullptr; n = n->next) ++count;
    ares_free_data(servers);
  }
  if (count == 1) {
    ares_destroy(impl->channel);
    if (Status s = init(ARES_FLAG_NOCHECKRESP, &impl->channel); !s.ok()) return s;
  }
  return std::unique_ptr<DnsResolver>(new DnsResolver(std::move(impl)));
}

const char* DnsResolver::ErrorKind(int status) {
  switch (status) {
    case ARES_ENOTFOUND:
    case ARES_ENONAME:
      return "nxdomain";
    case ARES_ENODATA:
      return "empty";
    case ARES_ESERVFAIL:
      return "servfail";
    case ARES_EREFUSED:
    case ARES_ENOTIMP:
      return "refused";
    case ARES_ETIMEOUT:
      return "timeout";
    case ARES_ECONNREFUSED:
      return "unreachable";
    case ARES_EBADRESP:
    case ARES_EFORMERR:
    case ARES_EBADNAME:
      return "bad_answer";
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
      return "cancelled";
    default:
      return "other";
  }
}

DnsOutcome DnsResolver::Resolve(const std::string& name, int port, AddressFamily family,
                                size_t max_members, int wake_fd) {
  Impl& impl = *impl_;
  impl.lookups.clear();  // every callback of the previous resolution has run
  impl.pending = 0;
  impl.poll_failed = false;
  if (port > 0) {
    impl.StartAddressLookup(name, port, family);
    if (!impl.Run(wake_fd)) return Interrupted(impl.poll_failed, name);
    return AddressOutcome(impl.lookups.front().result);
  }

  Lookup* srv = impl.NewLookup(name, 0);
  ares_search(impl.channel, name.c_str(), ns_c_in, ns_t_srv, OnSrv, srv);
  if (!impl.Run(wake_fd)) return Interrupted(impl.poll_failed, name);
  if (srv->result.status != ARES_SUCCESS) return DnsFailure(srv->result.status, name);
  std::vector<SrvTarget> targets = srv->targets;
  bool capped = SelectSrvTargets(&targets, max_members);
  if (targets.empty()) return DnsFailure(ARES_ENODATA, name);
  size_t first = impl.lookups.size();
  for (const SrvTarget& t : targets) impl.StartAddressLookup(t.host, t.port, family);
  if (!impl.Run(wake_fd)) return Interrupted(impl.poll_failed, name);
  std::vector<AddressLookup> resolved;
  for (size_t i = first; i < impl.lookups.size(); ++i) resolved.push_back(impl.lookups[i].result);
  return SrvOutcome(name, resolved, capped);
}

}  // namespace podcache
