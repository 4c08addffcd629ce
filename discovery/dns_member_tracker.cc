#include "discovery/dns_member_tracker.h"

#include "core/log.h"
#include "discovery/host_port.h"
#include "discovery/source_metrics.h"

namespace podcache {

DnsMemberTracker::DnsMemberTracker(std::string name, size_t max_members)
    : name_(std::move(name)), max_members_(max_members) {
  for (const char* kind : kDnsErrorKinds) errors_[kind];
}

uint64_t DnsMemberTracker::errors(const std::string& kind) const {
  auto it = errors_.find(kind);
  return it == errors_.end() ? 0 : it->second.load();
}

std::optional<std::vector<std::string>> DnsMemberTracker::Apply(const DnsOutcome& outcome) {
  resolutions_.fetch_add(1);
  std::string state = outcome.ok() ? "ok" : outcome.error_kind;
  auto counted = errors_.find(state);
  if (!outcome.ok()) (counted != errors_.end() ? counted : errors_.find("other"))->second++;
  if (state != state_) {
    if (outcome.ok()) {
      if (state_ != "start") LogInfo("dns discovery: resolving again", {{"name", name_}});
    } else if (state_ == "ok" || state_ == "start") {
      LogWarn("dns discovery: resolution failed, keeping the last members",
              {{"name", name_},
               {"kind", state},
               {"error", outcome.detail},
               {"members", static_cast<long long>(last_.size())}});
    } else {
      // Still failing, another way (a server going down answers with timeouts, then refusals):
      // the warning above was said once; the kinds are counted in the metrics.
      LogDebug("dns discovery: still failing", {{"name", name_}, {"kind", state}});
    }
    state_ = state;
  }
  bool answered = outcome.ok() || state == "nxdomain" || state == "empty";
  if (!answered) return std::nullopt;
  if (!synced_.load() && !outcome.ok()) {
    // The name is not published yet: start alone, and take members from the first answer.
    synced_ = true;
    reported_ = true;
    updates_.fetch_add(1);
    return last_;
  }
  if (!outcome.ok()) return std::nullopt;

  std::vector<std::string> members = outcome.members;
  bool capped = NormalizeMembers(&members, max_members_) || outcome.capped;
  if (capped) errors_.find("too_many_members")->second++;
  if (capped != capped_) {
    if (capped) {
      LogError("dns discovery: more members than max_members, keeping the first ones",
               {{"name", name_}, {"max_members", static_cast<long long>(max_members_)}});
    } else {
      LogInfo("dns discovery: member count within max_members again", {{"name", name_}});
    }
    capped_ = capped;
  }
  synced_ = true;
  if (reported_ && members == last_) return std::nullopt;
  last_ = std::move(members);
  reported_ = true;
  members_ = last_.size();
  updates_.fetch_add(1);
  LogInfo("dns discovery: members changed",
          {{"name", name_}, {"members", static_cast<long long>(last_.size())}});
  return last_;
}

std::vector<SourceMetric> DnsMemberTracker::Metrics() const {
  std::vector<SourceMetric> out;
  out.push_back(CounterMetric("podcache_discovery_resolutions_total",
                              "DNS resolutions of the peer name, successful or not.",
                              static_cast<double>(resolutions_.load())));
  std::vector<std::pair<std::string, uint64_t>> errors;
  for (const auto& [kind, count] : errors_) errors.emplace_back(kind, count.load());
  AppendSourceMetrics(updates_.load(), static_cast<int64_t>(members_.load()), errors, &out);
  return out;
}

}  // namespace podcache
