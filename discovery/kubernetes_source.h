#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/mutex.h"
#include "discovery/k8s_http.h"
#include "discovery/k8s_objects.h"
#include "discovery/peer_source.h"

namespace podcache {

struct KubernetesSourceOptions {
  std::string service;         // the headless Service (label kubernetes.io/service-name)
  std::string namespace_name;  // "": read from serviceaccount_dir/namespace
  std::string port_name = "peer";
  std::string api_url;  // "": https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
  std::string serviceaccount_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  Millis watch_timeout_ms = 300000;   // a watch asks for timeoutSeconds in [1x, 2x) of this
  Millis token_reload_ms = 60000;     // the token file is re-read this often, and after a 401
  Millis request_timeout_ms = 10000;  // a list request, and connecting for a watch
  Millis backoff_initial_ms = 250;    // after an error; doubles (with jitter) up to backoff_max_ms
  Millis backoff_max_ms = 10000;
  size_t list_page_size = 500;       // limit= of list requests (continue tokens page the rest)
  size_t max_event_bytes = 8 << 20;  // a longer watch line drops the stream
};

// The `kubernetes` discovery provider: the ready, non-terminating endpoints of every
// EndpointSlice of a Service (discovery.k8s.io/v1), kept current the way client-go's
// informers do it:
//
//   list (paged)  ->  watch from the list's resourceVersion, with bookmarks
//        ^                 | server closed the watch / network error: watch again from
//        |                 |   the last resourceVersion seen (event or BOOKMARK)
//        +-- 410 Gone -----+   (as HTTP status or as an ERROR event): relist
//
// Errors back off exponentially with jitter, capped. While the API server cannot be reached
// the last member set stays in force. In-cluster configuration as client-go reads it: the API
// address from KUBERNETES_SERVICE_HOST/PORT, and token, ca.crt and namespace from the service
// account directory; the token is re-read periodically and after every 401 (Kubernetes rotates
// it). TLS is verified against ca.crt; an http:// api_url (kubectl proxy) uses no TLS.
//
// Thread-safety: one thread of its own runs the loop; Synced() and Metrics() may be called
// from any thread; Start and Stop from one thread.
class KubernetesPeerSource final : public PeerSource {
 public:
  explicit KubernetesPeerSource(KubernetesSourceOptions options,
                                const Clock* clock = SystemClock::Get());
  ~KubernetesPeerSource() override;

  std::string name() const override { return "kubernetes"; }
  // Fails when the in-cluster configuration is incomplete (no API address, no token file,
  // no namespace); the API server itself need not be reachable yet.
  Status Start(MembersFn on_members) override;
  void Stop() override;
  bool Synced() const override { return synced_.load(); }
  std::vector<SourceMetric> Metrics() const override;

 private:
  enum class WatchEnd { kClosed, kGone, kError, kStopping };
  struct Counters;

  void Loop();
  // One paged list; replaces the slices and publishes. Returns false on error (counted).
  bool List();
  std::string SlicesPath() const;
  // One watch request from resource_version_, until it ends.
  WatchEnd Watch();
  // Applies one event line; kGone on a 410 ERROR event.
  WatchEnd OnEvent(std::string_view line, bool* changed);
  void Publish();
  void ReloadTokenIfDue(bool force);
  void CountError(const std::string& kind, const std::string& message);
  // Counts an answer of `request` ("list", "watch") other than 200, by kind.
  void CountHttpError(const char* request, const K8sReply& reply);
  void Recovered();
  // Sleeps for the back-off (or until Stop); false when stopping.
  bool Backoff();
  bool Stopping() const { return stopping_.load(); }

  KubernetesSourceOptions options_;
  const Clock* const clock_;
  std::string namespace_, token_file_;
  MembersFn on_members_;
  std::unique_ptr<K8sHttp> http_;

  // Loop state (the loop's thread only).
  SliceSet slices_;
  std::string resource_version_;
  std::vector<std::string> last_members_;
  bool published_once_ = false;
  Millis backoff_ms_ = 0;
  Millis token_read_at_ = -1;
  std::mt19937_64 rng_{std::random_device{}()};  // jitter of watch timeouts and back-off
  std::string failing_;  // the error logged last, "" when healthy (logs once per change)

  std::atomic<bool> synced_{false};
  std::atomic<bool> stopping_{false};
  std::unique_ptr<Counters> counters_;
  // Orders Stop's setting of stopping_ (an atomic, read without it too) before Backoff's wait, so
  // the wake-up is not lost.
  Mutex mu_;
  CondVar cv_;
  std::thread thread_;
};

// The API server's URL in a pod, from KUBERNETES_SERVICE_HOST and _PORT: https://host:port,
// or for an IPv6 host https://kubernetes.default.svc:port (see the .cc for why).
StatusOr<std::string> InClusterApiUrl(const std::string& host, const std::string& port);

}  // namespace podcache
