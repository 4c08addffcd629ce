#pragma once

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/mutex.h"
#include "discovery/nats_member_table.h"
#include "discovery/nats_message.h"
#include "discovery/peer_source.h"

// nats.c types, kept out of the header's users.
struct __natsConnection;
struct __natsSubscription;
struct __natsOptions;

namespace podcache {

struct NatsSourceOptions {
  std::string url;      // nats://host:4222 or tls://..., comma-separated for several servers
  std::string subject;  // e.g. podcache.discovery.<cluster_name>
  std::string self;     // this node's member address (--advertise): announced, and ignored
  Millis heartbeat_ms = 1000;
  Millis expiry_ms = 5000;
  size_t max_members = 1024;
  // After the start-up hello, replies are awaited this long before the source counts as
  // synced, so a node is ready with the whole cluster in its ring, not just itself.
  Millis gather_ms = 100;
  // Credentials and TLS, as nats.c supports them: a .creds file (JWT + NKey seed), a user and
  // password, or a token; a CA to verify the server, a client certificate and key. TLS is on
  // when any TLS file is given or the URL is tls://.
  std::string creds_file, user, password, token;
  std::string tls_ca, tls_cert, tls_key;
  const Clock* clock = nullptr;  // member expiry; default SystemClock
};

// The `nats` discovery provider (nats.c). Protocol: nats_message.h. The node announces itself
// with a hello at start and after every reconnect (request/reply: every member answers with a
// beat, so a new node converges at once), beats every heartbeat_ms, and says bye in Stop().
// Members not heard from for expiry_ms are dropped; while the server is unreachable nobody
// expires and the last members stay. nats.c reconnects forever with exponential back-off.
//
// Threads: nats.c delivers messages and connection events on its own threads; they update the
// member table under mu_ and wake the source's thread, which alone publishes heartbeats,
// expires members and calls on_members. Start/Stop from one thread; Synced and Metrics from any.
class NatsPeerSource final : public PeerSource {
 public:
  explicit NatsPeerSource(NatsSourceOptions options);
  ~NatsPeerSource() override;
  std::string name() const override { return "nats"; }
  // Fails on a bad configuration (URL, unreadable credential or TLS files); an unreachable
  // server is not an error: nats.c keeps trying and the source is not synced until it connects.
  Status Start(MembersFn on_members) override;
  // Publishes bye (when connected), closes the connection and waits until no nats.c callback
  // can run any more.
  void Stop() override;
  bool Synced() const override { return synced_.load(); }
  std::vector<SourceMetric> Metrics() const override;

 private:
  friend struct NatsCallbacks;  // the C callbacks nats.c calls, with `this` as closure

  // The steps of Start: nats.c's options (connection, callbacks, authentication, TLS), the
  // connection (or its first retry), and one subscription with its completion callback.
  Status CreateOptions();
  Status Connect();
  Status Subscribe(const std::string& subject, __natsSubscription** sub);
  void HandleMessage(const char* data, int len, const char* reply);
  void Loop();
  bool Publish(const char* subject, NatsMessage::Type type, const char* reply = nullptr);
  // Hands the member set to on_members when it changed; unlocks mu_ around that call.
  void Report() REQUIRES(mu_);

  const NatsSourceOptions options_;
  MembersFn on_members_;
  __natsOptions* nats_options_ = nullptr;
  __natsConnection* conn_ = nullptr;
  __natsSubscription* subject_sub_ = nullptr;
  __natsSubscription* inbox_sub_ = nullptr;
  std::string inbox_;

  mutable Mutex mu_;
  CondVar cv_;
  NatsMemberTable table_ GUARDED_BY(mu_);
  bool dirty_ GUARDED_BY(mu_) = false;  // the table changed since the last report
  bool connected_ GUARDED_BY(mu_) = false;
  bool need_hello_ GUARDED_BY(mu_) = false;
  Millis sync_at_ GUARDED_BY(mu_) = kNoDeadline;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool closed_ GUARDED_BY(mu_) = false;
  int subscriptions_done_ GUARDED_BY(mu_) = 0;
  bool refused_logged_ GUARDED_BY(mu_) = false;
  std::vector<std::string> reported_;  // the loop thread's
  bool ever_reported_ = false;         // the loop thread's
  std::thread thread_;
  bool stopped_ = false;  // Start/Stop's thread

  std::atomic<bool> synced_{false};
  std::atomic<uint64_t> updates_{0}, members_{0}, expired_{0}, reconnects_{0};
  std::atomic<bool> connected_gauge_{false};
  std::map<std::string, std::atomic<uint64_t>> received_;  // by type; keys fixed
  std::map<std::string, std::atomic<uint64_t>> dropped_;   // by reason; keys fixed
  std::map<std::string, std::atomic<uint64_t>> errors_;    // by kind; keys fixed
};

}  // namespace podcache
