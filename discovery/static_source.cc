#include "discovery/static_source.h"

#include <algorithm>
#include <sstream>

#include "core/log.h"
#include "core/small_file.h"
#include "discovery/host_port.h"

namespace podcache {

StaticPeerSource::StaticPeerSource(std::vector<std::string> peers, std::string file, Millis poll_ms)
    : peers_(std::move(peers)), file_(std::move(file)), poll_ms_(poll_ms) {}

StaticPeerSource::~StaticPeerSource() { Stop(); }

std::vector<std::string> StaticPeerSource::ParseMembers(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    line = line.substr(0, line.find('#'));
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream words(line);
    std::string word;
    while (words >> word) out.push_back(word);
  }
  NormalizeMembers(&out);
  return out;
}

StatusOr<std::vector<std::string>> StaticPeerSource::Read() const {
  std::vector<std::string> members = peers_;
  if (!file_.empty()) {
    auto text = ReadSmallFile("peers file", file_, kMaxFileBytes);
    if (!text.ok()) return text.status();
    for (std::string& m : ParseMembers(text.value())) members.push_back(std::move(m));
  }
  NormalizeMembers(&members);
  return members;
}

Status StaticPeerSource::Start(MembersFn on_members) {
  on_members_ = std::move(on_members);
  auto first = Read();
  if (!first.ok()) {
    // The file may appear later (a ConfigMap being mounted); start with the fixed list.
    LogWarn("static discovery: peers file unreadable, using --peers only",
            {{"error", first.status().message()}});
    file_failing_ = true;
    std::vector<std::string> peers = peers_;
    NormalizeMembers(&peers);
    first = std::move(peers);
  }
  last_ = first.value();
  on_members_(last_);
  if (!file_.empty()) thread_ = std::thread([this] { Loop(); });
  return OkStatus();
}

void StaticPeerSource::Loop() {
  MutexLock lock(&mu_);
  for (;;) {
    const auto poll_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(poll_ms_);
    while (!stopping_ && cv_.WaitUntil(&mu_, poll_at)) {
    }
    if (stopping_) return;
    auto members = Read();
    if (!members.ok()) {
      if (!file_failing_) {
        LogWarn("static discovery: peers file unreadable, keeping the last members",
                {{"error", members.status().message()}});
      }
      file_failing_ = true;
      continue;
    }
    if (file_failing_) LogInfo("static discovery: peers file readable again", {{"file", file_}});
    file_failing_ = false;
    if (members.value() == last_) continue;
    last_ = members.value();
    LogInfo("static discovery: members changed",
            {{"members", static_cast<long long>(last_.size())}});
    on_members_(last_);
  }
}

void StaticPeerSource::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

}  // namespace podcache
