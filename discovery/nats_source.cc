#include "discovery/nats_source.h"

#include <nats/nats.h>

#include <algorithm>
#include <chrono>

#include "core/log.h"
#include "discovery/source_metrics.h"

namespace podcache {

namespace {

constexpr Millis kFlushTimeoutMs = 1000;
constexpr Millis kCloseWaitMs = 5000;

Status NatsError(const std::string& what, natsStatus s) {
  const char* last = nats_GetLastError(nullptr);
  return UnavailableError("nats: " + what + ": " + natsStatus_GetText(s) +
                          (last != nullptr && *last != '\0' ? std::string(" (") + last + ")" : ""));
}

}  // namespace

struct NatsCallbacks {
  static NatsPeerSource* Self(void* closure) { return static_cast<NatsPeerSource*>(closure); }

  static void OnMsg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    Self(closure)->HandleMessage(natsMsg_GetData(msg), natsMsg_GetDataLength(msg),
                                 natsMsg_GetReply(msg));
    natsMsg_Destroy(msg);
  }

  // Connected, at first or again: the loop says hello at once. After a reconnection the silence
  // was the server's: every member gets a full expiry time to be heard again (the hello asks
  // them all to answer at once).
  static void MarkConnected(NatsPeerSource* s, bool reconnected) {
    {
      MutexLock lock(&s->mu_);
      s->connected_ = true;
      s->need_hello_ = true;
      if (reconnected) s->table_.RefreshAll();
    }
    s->connected_gauge_ = true;
    s->cv_.NotifyAll();
  }

  static void OnConnected(natsConnection*, void* closure) {
    LogInfo("nats discovery: connected", {{"url", Self(closure)->options_.url}});
    MarkConnected(Self(closure), /*reconnected=*/false);
  }

  static void OnDisconnected(natsConnection*, void* closure) {
    NatsPeerSource* s = Self(closure);
    {
      MutexLock lock(&s->mu_);
      s->connected_ = false;
      if (s->stopping_) return;
    }
    s->connected_gauge_ = false;
    s->errors_.at("disconnected")++;
    LogWarn(
        "nats discovery: disconnected from the server, keeping the last members and "
        "reconnecting",
        {{"url", s->options_.url}});
  }

  static void OnReconnected(natsConnection*, void* closure) {
    NatsPeerSource* s = Self(closure);
    s->reconnects_++;
    LogInfo("nats discovery: reconnected, announcing again", {{"url", s->options_.url}});
    MarkConnected(s, /*reconnected=*/true);
  }

  static void OnClosed(natsConnection* nc, void* closure) {
    NatsPeerSource* s = Self(closure);
    MutexLock lock(&s->mu_);
    if (!s->stopping_) {
      const char* text = nullptr;
      natsStatus err = natsConnection_GetLastError(nc, &text);
      LogError("nats discovery: connection closed for good, not reconnecting (not ready)",
               {{"url", s->options_.url},
                {"error", text != nullptr && *text != '\0' ? text : natsStatus_GetText(err)}});
    }
    s->closed_ = true;
    s->connected_ = false;
    s->cv_.NotifyAll();  // under the lock: Stop() may destroy the source as soon as it sees it
  }

  static void OnSubscriptionDone(void* closure) {
    NatsPeerSource* s = Self(closure);
    MutexLock lock(&s->mu_);
    s->subscriptions_done_++;
    s->cv_.NotifyAll();
  }

  static void OnError(natsConnection*, natsSubscription*, natsStatus err, void* closure) {
    NatsPeerSource* s = Self(closure);
    s->errors_.at("async")++;
    LogWarn("nats discovery: asynchronous error", {{"error", natsStatus_GetText(err)}});
  }

  // Exponential back-off between rounds of reconnect attempts: 100 ms doubling to 5 s.
  static int64_t ReconnectDelay(natsConnection*, int attempts, void*) {
    int64_t delay = 100;
    for (int i = 1; i < attempts && delay < 5000; ++i) delay *= 2;
    return std::min<int64_t>(delay, 5000);
  }
};

NatsPeerSource::NatsPeerSource(NatsSourceOptions options)
    : options_(std::move(options)),
      table_(options_.clock != nullptr ? options_.clock : SystemClock::Get(), options_.expiry_ms,
             options_.max_members) {
  for (const char* t : {"hello", "beat", "bye"}) received_[t];
  for (const char* r : {"malformed", "oversized", "version", "self"}) dropped_[r];
  for (const char* k : {"disconnected", "publish", "async", "too_many_members"}) errors_[k];
}

NatsPeerSource::~NatsPeerSource() { Stop(); }

Status NatsPeerSource::Start(MembersFn on_members) {
  on_members_ = std::move(on_members);
  if (Status s = CreateOptions(); !s.ok()) return s;
  if (Status s = Connect(); !s.ok()) return s;
  natsInbox* inbox = nullptr;
  if (natsStatus s = natsInbox_Create(&inbox); s != NATS_OK) return NatsError("inbox", s);
  inbox_ = reinterpret_cast<const char*>(inbox);
  natsInbox_Destroy(inbox);
  if (Status s = Subscribe(options_.subject, &subject_sub_); !s.ok()) return s;
  if (Status s = Subscribe(inbox_, &inbox_sub_); !s.ok()) return s;
  LogInfo("nats discovery: starting",
          {{"url", options_.url},
           {"subject", options_.subject},
           {"self", options_.self},
           {"heartbeat_ms", static_cast<long long>(options_.heartbeat_ms)},
           {"expiry_ms", static_cast<long long>(options_.expiry_ms)}});
  thread_ = std::thread([this] { Loop(); });
  return OkStatus();
}

Status NatsPeerSource::CreateOptions() {
  natsOptions* o = nullptr;
  natsStatus s = natsOptions_Create(&o);
  if (s != NATS_OK) return NatsError("options", s);
  nats_options_ = o;
  auto check = [](natsStatus st, const std::string& what) {
    return st == NATS_OK ? OkStatus() : NatsError(what, st);
  };
  std::string name = "podcache " + options_.self;
  std::vector<Status> steps = {
      check(natsOptions_SetURL(o, options_.url.c_str()), "url " + options_.url),
      check(natsOptions_SetName(o, name.c_str()), "name"),
      // Heartbeats are only worth anything when sent at once.
      check(natsOptions_SetSendAsap(o, true), "send asap"),
      // Our own messages are not news.
      check(natsOptions_SetNoEcho(o, true), "no echo"),
      check(natsOptions_SetTimeout(o, 2000), "timeout"),
      // A silently dead link is noticed within about one expiry time, so the members are then
      // kept (disconnected) rather than expired one by one.
      check(natsOptions_SetPingInterval(o, std::max<Millis>(options_.expiry_ms / 2, 100)),
            "ping interval"),
      check(natsOptions_SetMaxPingsOut(o, 2), "max pings out"),
      check(natsOptions_SetMaxReconnect(o, -1), "max reconnect"),
      check(natsOptions_SetCustomReconnectDelay(o, NatsCallbacks::ReconnectDelay, this),
            "reconnect delay"),
      check(natsOptions_SetRetryOnFailedConnect(o, true, NatsCallbacks::OnConnected, this),
            "retry on failed connect"),
      check(natsOptions_SetDisconnectedCB(o, NatsCallbacks::OnDisconnected, this),
            "disconnected callback"),
      check(natsOptions_SetReconnectedCB(o, NatsCallbacks::OnReconnected, this),
            "reconnected callback"),
      check(natsOptions_SetClosedCB(o, NatsCallbacks::OnClosed, this), "closed callback"),
      check(natsOptions_SetErrorHandler(o, NatsCallbacks::OnError, this), "error handler"),
  };
  // Authentication and TLS, each only when configured.
  if (!options_.creds_file.empty()) {
    steps.push_back(
        check(natsOptions_SetUserCredentialsFromFiles(o, options_.creds_file.c_str(), nullptr),
              "credentials file " + options_.creds_file));
  }
  if (!options_.user.empty() || !options_.password.empty()) {
    steps.push_back(check(
        natsOptions_SetUserInfo(o, options_.user.c_str(), options_.password.c_str()), "user"));
  }
  if (!options_.token.empty()) {
    steps.push_back(check(natsOptions_SetToken(o, options_.token.c_str()), "token"));
  }
  if (options_.url.rfind("tls://", 0) == 0 || !options_.tls_ca.empty() ||
      !options_.tls_cert.empty()) {
    steps.push_back(check(natsOptions_SetSecure(o, true), "tls"));
  }
  if (!options_.tls_ca.empty()) {
    steps.push_back(check(natsOptions_LoadCATrustedCertificates(o, options_.tls_ca.c_str()),
                          "tls ca " + options_.tls_ca));
  }
  if (!options_.tls_cert.empty()) {
    steps.push_back(check(
        natsOptions_LoadCertificatesChain(o, options_.tls_cert.c_str(), options_.tls_key.c_str()),
        "tls cert " + options_.tls_cert));
  }
  for (const Status& st : steps) {
    if (!st.ok()) return st;
  }
  return OkStatus();
}

Status NatsPeerSource::Connect() {
  natsStatus s = natsConnection_Connect(&conn_, nats_options_);
  if (s == NATS_OK) {
    NatsCallbacks::MarkConnected(this, /*reconnected=*/false);  // no connected callback follows
  } else if (s != NATS_NOT_YET_CONNECTED) {
    conn_ = nullptr;
    return NatsError("connect " + options_.url, s);
  } else {
    LogWarn("nats discovery: server not reachable yet, retrying (not ready until connected)",
            {{"url", options_.url}});
  }
  return OkStatus();
}

Status NatsPeerSource::Subscribe(const std::string& subject, natsSubscription** sub) {
  natsStatus s = natsConnection_Subscribe(sub, conn_, subject.c_str(), NatsCallbacks::OnMsg, this);
  if (s == NATS_CONNECTION_CLOSED) {
    // nats.c closes the connection for good when the server refuses it twice in a row (wrong
    // credentials), and its retry thread may do so before the subscriptions are made. That is
    // the same outcome as a close a moment later (OnClosed logs it; never synced, never ready),
    // not a failed start: which of the two happened used to depend on thread timing.
    *sub = nullptr;
    return OkStatus();
  }
  if (s != NATS_OK) {
    *sub = nullptr;
    return NatsError("subscribe " + subject, s);
  }
  natsSubscription_SetOnCompleteCB(*sub, NatsCallbacks::OnSubscriptionDone, this);
  return OkStatus();
}

bool NatsPeerSource::Publish(const char* subject, NatsMessage::Type type, const char* reply) {
  std::string data = EncodeNatsMessage(NatsMessage{type, options_.self});
  natsStatus s = reply == nullptr
                     ? natsConnection_PublishString(conn_, subject, data.c_str())
                     : natsConnection_PublishRequestString(conn_, subject, reply, data.c_str());
  if (s != NATS_OK) {
    errors_.at("publish")++;
    LogDebug("nats discovery: publish failed", {{"error", natsStatus_GetText(s)}});
    return false;
  }
  return true;
}

void NatsPeerSource::HandleMessage(const char* data, int len, const char* reply) {
  NatsMessage m;
  NatsParseResult r = ParseNatsMessage(std::string_view(data, len > 0 ? len : 0), &m);
  if (r != NatsParseResult::kOk) {
    const char* reason = r == NatsParseResult::kOversized ? "oversized"
                         : r == NatsParseResult::kVersion ? "version"
                                                          : "malformed";
    dropped_.at(reason)++;
    LogDebug("nats discovery: message dropped", {{"reason", reason}});
    return;
  }
  if (m.member == options_.self) {
    // Another process claims this node's address: a misconfiguration or a forgery. Believing
    // it could only remove this node from its own view.
    dropped_.at("self")++;
    return;
  }
  received_.at(NatsTypeName(m.type))++;
  bool answer = false;
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    if (m.type == NatsMessage::Type::kBye) {
      if (table_.Left(m.member)) {
        dirty_ = true;
        LogInfo("nats discovery: member left", {{"member", m.member}});
      }
    } else {
      NatsMemberTable::SeenResult seen = table_.Saw(m.member);
      if (seen == NatsMemberTable::SeenResult::kNew) {
        dirty_ = true;
        LogInfo("nats discovery: member joined", {{"member", m.member}});
      } else if (seen == NatsMemberTable::SeenResult::kRefused) {
        errors_.at("too_many_members")++;
        if (!refused_logged_) {
          LogError("nats discovery: more members than max_members, ignoring new ones",
                   {{"max_members", static_cast<long long>(options_.max_members)}});
        }
        refused_logged_ = true;
      }
      answer =
          m.type == NatsMessage::Type::kHello && reply != nullptr && *reply != '\0' && connected_;
    }
  }
  if (answer) Publish(reply, NatsMessage::Type::kBeat);  // "I am here too", to the asker only
  cv_.NotifyAll();
}

void NatsPeerSource::Report() {
  if (!synced_.load() || !dirty_) return;
  dirty_ = false;
  std::vector<std::string> members = table_.Members();
  if (table_.size() < options_.max_members) refused_logged_ = false;
  mu_.Unlock();
  if (!ever_reported_ || members != reported_) {
    reported_ = members;
    ever_reported_ = true;
    members_ = members.size();
    updates_++;
    LogInfo("nats discovery: members changed",
            {{"members", static_cast<long long>(members.size())}});
    on_members_(std::move(members));
  }
  mu_.Lock();
}

void NatsPeerSource::Loop() {
  const Clock* clock = SystemClock::Get();
  Millis next_beat = clock->NowMs() + options_.heartbeat_ms;
  MutexLock lock(&mu_);
  while (!stopping_) {
    Millis now = clock->NowMs();
    if (need_hello_ && connected_) {
      need_hello_ = false;
      mu_.Unlock();
      bool sent = Publish(options_.subject.c_str(), NatsMessage::Type::kHello, inbox_.c_str());
      // Once the server has the hello, the answers are on their way.
      if (sent) sent = natsConnection_FlushTimeout(conn_, kFlushTimeoutMs) == NATS_OK;
      mu_.Lock();
      if (!sent) {
        need_hello_ = connected_;  // try again (the reconnected callback asks again anyway)
      } else if (!synced_.load()) {
        sync_at_ = clock->NowMs() + options_.gather_ms;
      }
      next_beat = clock->NowMs() + options_.heartbeat_ms;
      continue;
    }
    if (now >= next_beat) {
      if (connected_) {
        mu_.Unlock();
        Publish(options_.subject.c_str(), NatsMessage::Type::kBeat);
        mu_.Lock();
      }
      next_beat = now + options_.heartbeat_ms;
    }
    if (connected_) {
      for (const std::string& gone : table_.Expire()) {
        expired_++;
        dirty_ = true;
        LogInfo("nats discovery: member expired (no heartbeat)", {{"member", gone}});
      }
    }
    if (!synced_.load() && now >= sync_at_) {
      synced_ = true;
      dirty_ = true;  // the first set, even when empty: this node is the first
    }
    Report();
    if (stopping_) break;
    Millis wake = std::min(next_beat, connected_ ? table_.NextExpiry() : kNoDeadline);
    if (!synced_.load()) wake = std::min(wake, sync_at_);
    now = clock->NowMs();
    if ((dirty_ && synced_.load()) || (need_hello_ && connected_)) continue;
    cv_.WaitFor(&mu_, std::chrono::milliseconds(std::max<Millis>(wake - now, 1)));
  }
}

void NatsPeerSource::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
  if (conn_ != nullptr) {
    bool connected;
    {
      MutexLock lock(&mu_);
      connected = connected_;
    }
    if (connected && Publish(options_.subject.c_str(), NatsMessage::Type::kBye)) {
      natsConnection_FlushTimeout(conn_, kFlushTimeoutMs);
      LogInfo("nats discovery: said bye", {{"subject", options_.subject}});
    }
    int subscriptions = 0;
    for (natsSubscription* sub : {subject_sub_, inbox_sub_}) {
      if (sub != nullptr && natsSubscription_Unsubscribe(sub) == NATS_OK) ++subscriptions;
    }
    natsConnection_Close(conn_);
    // nats.c runs callbacks on its own threads: wait until the last one has returned, so none
    // can touch this object after Stop().
    bool done;
    {
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kCloseWaitMs);
      MutexLock lock(&mu_);
      while (!(closed_ && subscriptions_done_ >= subscriptions) && cv_.WaitUntil(&mu_, until)) {
      }
      done = closed_ && subscriptions_done_ >= subscriptions;
    }
    if (!done) LogError("nats discovery: nats.c did not confirm the close in time");
    for (natsSubscription** sub : {&subject_sub_, &inbox_sub_}) {
      if (*sub != nullptr) natsSubscription_Destroy(*sub);
      *sub = nullptr;
    }
    natsConnection_Destroy(conn_);
    conn_ = nullptr;
  }
  if (nats_options_ != nullptr) natsOptions_Destroy(nats_options_);
  nats_options_ = nullptr;
  connected_gauge_ = false;
}

std::vector<SourceMetric> NatsPeerSource::Metrics() const {
  std::vector<SourceMetric> out;
  out.push_back(GaugeMetric("podcache_discovery_connected", "1 while connected to the NATS server.",
                            connected_gauge_.load() ? 1 : 0));
  out.push_back(CounterMetric("podcache_discovery_reconnects_total",
                              "Reconnections to the NATS server.",
                              static_cast<double>(reconnects_.load())));
  out.push_back(CounterMetric("podcache_discovery_expired_total",
                              "Members dropped because their heartbeats stopped.",
                              static_cast<double>(expired_.load())));
  for (const auto& [type, n] : received_) {
    out.push_back(CounterMetric("podcache_discovery_messages_received_total",
                                "Valid discovery messages received, by type.",
                                static_cast<double>(n.load()), {{"type", type}}));
  }
  for (const auto& [reason, n] : dropped_) {
    out.push_back(CounterMetric("podcache_discovery_messages_dropped_total",
                                "Discovery messages dropped, by reason.",
                                static_cast<double>(n.load()), {{"reason", reason}}));
  }
  std::vector<std::pair<std::string, uint64_t>> errors;
  for (const auto& [kind, n] : errors_) errors.emplace_back(kind, n.load());
  AppendSourceMetrics(updates_.load(), static_cast<int64_t>(members_.load()), errors, &out);
  return out;
}

}  // namespace podcache
