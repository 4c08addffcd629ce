#include "discovery/dns_source.h"

#include "core/log.h"

namespace podcache {

DnsPeerSource::DnsPeerSource(DnsSourceOptions options)
    : options_(std::move(options)), tracker_(options_.name, options_.max_members) {}

DnsPeerSource::~DnsPeerSource() { Stop(); }

Status DnsPeerSource::Start(MembersFn on_members) {
  auto resolver = DnsResolver::Create(options_.resolver);
  if (!resolver.ok()) return resolver.status();
  resolver_ = std::move(resolver).value();
  on_members_ = std::move(on_members);
  LogInfo("dns discovery: starting",
          {{"name", options_.name},
           {"mode", options_.port == 0 ? "SRV" : "A/AAAA"},
           {"server", options_.resolver.server.empty() ? "system" : options_.resolver.server},
           {"interval_ms", static_cast<long long>(options_.interval_ms)}});
  thread_ = std::thread([this] { Loop(); });
  return OkStatus();
}

void DnsPeerSource::Loop() {
  do {
    DnsOutcome outcome = resolver_->Resolve(options_.name, options_.port, options_.family,
                                            options_.max_members, stop_.fd());
    if (outcome.error_kind == "cancelled") break;
    if (auto members = tracker_.Apply(outcome)) on_members_(std::move(*members));
  } while (!stop_.Wait(options_.interval_ms));
}

void DnsPeerSource::Stop() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

}  // namespace podcache
