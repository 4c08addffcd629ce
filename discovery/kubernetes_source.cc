#include "discovery/kubernetes_source.h"

#include <cpprest/base_uri.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include "core/log.h"
#include "core/small_file.h"
#include "core/strings.h"
#include "discovery/source_metrics.h"

namespace podcache {

struct KubernetesPeerSource::Counters {
  std::atomic<uint64_t> lists{0}, relists{0}, watches{0}, watch_restarts{0}, updates{0};
  std::atomic<uint64_t> added{0}, modified{0}, deleted{0}, bookmarks{0}, error_events{0};
  std::atomic<uint64_t> token_reloads{0};
  std::atomic<int64_t> members{0};
  std::atomic<Millis> last_sync_ms{-1};
  mutable Mutex mu;
  std::map<std::string, uint64_t> errors GUARDED_BY(mu);  // by kind
};

namespace {

// Tokens are about 1 KiB; a namespace name at most 63 bytes.
constexpr size_t kMaxAccountFileBytes = 64 << 10;

// A service-account file (token, namespace) without its trailing newline.
StatusOr<std::string> ReadAccountFile(const std::string& path) {
  auto text = ReadSmallFile("service-account file", path, kMaxAccountFileBytes);
  if (!text.ok()) return text.status();
  return std::string(TrimTrailingSpace(text.value()));
}

bool FileExists(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace

StatusOr<std::string> InClusterApiUrl(const std::string& host, const std::string& port) {
  if (host.empty() || port.empty()) {
    return InvalidArgumentError(
        "discovery kubernetes: KUBERNETES_SERVICE_HOST/PORT are not set (not in a pod?); "
        "set k8s_api_url");
  }
  if (host.find(':') != std::string::npos) {
    // cpprestsdk 2.10 hands "[addr]" with its brackets to the resolver, which fails, so an
    // IPv6 service address cannot be dialled as such. The Service's DNS name points to the
    // same address, and every API server certificate carries it.
    return "https://kubernetes.default.svc:" + port;
  }
  return "https://" + host + ":" + port;
}

KubernetesPeerSource::KubernetesPeerSource(KubernetesSourceOptions options, const Clock* clock)
    : options_(std::move(options)), clock_(clock), counters_(std::make_unique<Counters>()) {}

KubernetesPeerSource::~KubernetesPeerSource() { Stop(); }

Status KubernetesPeerSource::Start(MembersFn on_members) {
  on_members_ = std::move(on_members);
  const std::string& dir = options_.serviceaccount_dir;
  std::string api_url = options_.api_url;
  if (api_url.empty()) {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    auto url = InClusterApiUrl(host ? host : "", port ? port : "");
    if (!url.ok()) return url.status();
    api_url = url.value();
  }
  bool tls = api_url.rfind("https://", 0) == 0;
  if (!tls && api_url.rfind("http://", 0) != 0) {
    return InvalidArgumentError("k8s_api_url \"" + api_url + "\" is not http(s)://host:port");
  }
  std::string ca_file;
  if (tls) {
    ca_file = dir + "/ca.crt";
    if (!FileExists(ca_file)) {
      return InvalidArgumentError("discovery kubernetes: cannot read the cluster CA " + ca_file +
                                  " (k8s_serviceaccount_dir)");
    }
  }
  token_file_ = dir + "/token";
  // Through kubectl proxy (http://) no token is needed; the API server itself always wants one.
  if (tls && !FileExists(token_file_)) {
    return InvalidArgumentError("discovery kubernetes: cannot read the service-account token " +
                                token_file_ + " (k8s_serviceaccount_dir)");
  }
  namespace_ = options_.namespace_name;
  if (namespace_.empty()) {
    auto ns = ReadAccountFile(dir + "/namespace");
    if (!ns.ok() || ns.value().empty()) {
      return InvalidArgumentError("discovery kubernetes: no k8s_namespace and cannot read " + dir +
                                  "/namespace");
    }
    namespace_ = ns.value();
  }
  http_ = std::make_unique<K8sHttp>(api_url, ca_file);
  ReloadTokenIfDue(/*force=*/true);
  LogInfo("kubernetes discovery starting", {{"api", api_url},
                                            {"namespace", namespace_},
                                            {"service", options_.service},
                                            {"port_name", options_.port_name}});
  thread_ = std::thread([this] { Loop(); });
  return OkStatus();
}

void KubernetesPeerSource::Stop() {
  if (!thread_.joinable()) return;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  http_->Cancel();
  thread_.join();
}

void KubernetesPeerSource::ReloadTokenIfDue(bool force) {
  Millis now = clock_->NowMs();
  if (!force && token_read_at_ >= 0 && now - token_read_at_ < options_.token_reload_ms) return;
  token_read_at_ = now;
  auto token = ReadAccountFile(token_file_);
  if (!token.ok()) {
    if (FileExists(token_file_) || options_.api_url.rfind("https://", 0) == 0) {
      CountError("token", token.status().message());
    }
    return;
  }
  counters_->token_reloads++;
  http_->SetToken(token.value());
}

std::string KubernetesPeerSource::SlicesPath() const {
  return "/apis/discovery.k8s.io/v1/namespaces/" + web::uri::encode_data_string(namespace_) +
         "/endpointslices?labelSelector=" +
         web::uri::encode_data_string("kubernetes.io/service-name=" + options_.service);
}

void KubernetesPeerSource::Loop() {
  bool need_list = true;
  bool first_watch = true;
  while (!Stopping()) {
    ReloadTokenIfDue(/*force=*/false);
    if (need_list) {
      if (!List()) {
        if (!Backoff()) break;
        continue;
      }
      need_list = false;
    }
    if (!first_watch) counters_->watch_restarts++;
    first_watch = false;
    Millis started = clock_->NowMs();
    uint64_t events_before =
        counters_->added + counters_->modified + counters_->deleted + counters_->bookmarks;
    switch (Watch()) {
      case WatchEnd::kStopping:
        return;
      case WatchEnd::kGone:
        // Our resourceVersion is older than the server keeps: start over from a fresh list.
        counters_->relists++;
        need_list = true;
        break;
      case WatchEnd::kError:
        if (!Backoff()) return;
        break;
      case WatchEnd::kClosed: {
        // The server ended the watch (its timeout, or a restart): resume from the last
        // resourceVersion. A server that closes at once, again and again, is backed off.
        uint64_t events = counters_->added + counters_->modified + counters_->deleted +
                          counters_->bookmarks - events_before;
        if (events == 0 && clock_->NowMs() - started < 1000) {
          if (!Backoff()) return;
        }
        break;
      }
    }
  }
}

bool KubernetesPeerSource::List() {
  SliceList all;
  std::string continue_token;
  bool paged = true;
  for (;;) {
    std::string path = SlicesPath();
    if (paged) path += "&limit=" + std::to_string(options_.list_page_size);
    if (!continue_token.empty())
      path += "&continue=" + web::uri::encode_data_string(continue_token);
    std::string kind;
    auto reply = http_->Get(path, options_.request_timeout_ms, 256 << 20, &kind);
    if (Stopping()) return false;
    if (!reply.ok()) {
      CountError(kind, "list: " + reply.status().message());
      return false;
    }
    int status = reply.value().status;
    if (status == 410 && !continue_token.empty()) {
      // The continue token expired between pages: a full list without paging instead.
      continue_token.clear();
      all = SliceList();
      paged = false;
      continue;
    }
    if (status != 200) {
      CountHttpError("list", reply.value());
      return false;
    }
    auto page = ParseSliceList(reply.value().body, options_.port_name);
    if (!page.ok()) {
      CountError("parse", "list: " + page.status().message());
      return false;
    }
    for (SliceMembers& s : page.value().slices) all.slices.push_back(std::move(s));
    // The first page's resourceVersion is the list's (the snapshot every page comes from).
    if (all.resource_version.empty()) all.resource_version = page.value().resource_version;
    continue_token = page.value().continue_token;
    if (continue_token.empty()) break;
  }
  slices_.Clear();
  for (SliceMembers& s : all.slices) slices_.Put(std::move(s));
  resource_version_ = all.resource_version;
  counters_->lists++;
  counters_->last_sync_ms = clock_->NowMs();
  Recovered();
  backoff_ms_ = 0;
  Publish();
  synced_ = true;
  return true;
}

KubernetesPeerSource::WatchEnd KubernetesPeerSource::Watch() {
  // Like client-go, a timeout between 1x and 2x the option, so that the watches of many pods
  // started together do not all expire together.
  Millis watch_ms = options_.watch_timeout_ms +
                    static_cast<Millis>(rng_() % static_cast<uint64_t>(options_.watch_timeout_ms));
  std::string path = SlicesPath() + "&watch=1&allowWatchBookmarks=true&resourceVersion=" +
                     web::uri::encode_data_string(resource_version_) +
                     "&timeoutSeconds=" + std::to_string(std::max<Millis>(1, watch_ms / 1000));
  counters_->watches++;
  LineSplitter lines(options_.max_event_bytes);
  WatchEnd end = WatchEnd::kClosed;
  Status stream_error;
  // The inactivity timeout must outlast a quiet watch, which the server ends by itself.
  Millis timeout = watch_ms + options_.request_timeout_ms;
  std::string kind;
  bool streaming = false;
  auto reply = http_->Stream(
      path, timeout,
      [&](std::string_view chunk) {
        if (!streaming) {
          // The API server answers again: an error after a long healthy watch starts the
          // back-off from the beginning.
          streaming = true;
          backoff_ms_ = 0;
          Recovered();
        }
        bool changed = false;
        stream_error = lines.Feed(chunk, [&](std::string_view line) {
          if (end == WatchEnd::kClosed) end = OnEvent(line, &changed);
        });
        if (changed) Publish();
        return stream_error.ok() && end == WatchEnd::kClosed && !Stopping();
      },
      &kind);
  if (Stopping()) return WatchEnd::kStopping;
  if (!stream_error.ok()) {
    CountError("parse", "watch: " + stream_error.message());
    return WatchEnd::kError;
  }
  if (end != WatchEnd::kClosed) return end;
  if (!reply.ok()) {
    CountError(kind, "watch: " + reply.status().message());
    return WatchEnd::kError;
  }
  int status = reply.value().status;
  if (status == 410) {
    LogInfo("kubernetes discovery: watch answered 410 Gone, relisting");
    return WatchEnd::kGone;
  }
  if (status != 200) {
    CountHttpError("watch", reply.value());
    return WatchEnd::kError;
  }
  Recovered();
  backoff_ms_ = 0;
  return WatchEnd::kClosed;
}

KubernetesPeerSource::WatchEnd KubernetesPeerSource::OnEvent(std::string_view line, bool* changed) {
  auto event = ParseWatchEvent(line, options_.port_name);
  if (!event.ok()) {
    CountError("parse", "watch event: " + event.status().message());
    return WatchEnd::kError;
  }
  WatchEvent& e = event.value();
  if (e.type == "ERROR") {
    counters_->error_events++;
    if (e.error_code == 410) {
      LogInfo("kubernetes discovery: watch expired (ERROR 410), relisting",
              {{"message", e.error_message}});
      return WatchEnd::kGone;
    }
    CountError("watch_error",
               "watch ERROR event " + std::to_string(e.error_code) + ": " + e.error_message);
    return WatchEnd::kError;
  }
  resource_version_ = e.slice.resource_version;
  counters_->last_sync_ms = clock_->NowMs();
  if (e.type == "BOOKMARK") {
    counters_->bookmarks++;
    return WatchEnd::kClosed;
  }
  if (e.type == "DELETED") {
    counters_->deleted++;
    slices_.Erase(e.slice.name);
  } else {
    (e.type == "ADDED" ? counters_->added : counters_->modified)++;
    slices_.Put(std::move(e.slice));
  }
  *changed = true;
  return WatchEnd::kClosed;
}

void KubernetesPeerSource::Publish() {
  std::vector<std::string> members = slices_.Members();
  if (published_once_ && members == last_members_) return;
  if (!published_once_ || members.size() != last_members_.size()) {
    LogInfo("kubernetes discovery: members", {{"count", members.size()}});
  }
  published_once_ = true;
  last_members_ = members;
  counters_->members = static_cast<int64_t>(members.size());
  counters_->updates++;
  on_members_(std::move(members));
}

void KubernetesPeerSource::CountHttpError(const char* request, const K8sReply& reply) {
  if (reply.status == 401) ReloadTokenIfDue(/*force=*/true);  // the token may have been rotated
  std::string message = StatusMessage(reply.body);
  CountError(reply.status == 401   ? "unauthorized"
             : reply.status == 403 ? "forbidden"
                                   : "http",
             std::string(request) + ": HTTP " + std::to_string(reply.status) +
                 (message.empty() ? "" : ": " + message));
}

void KubernetesPeerSource::CountError(const std::string& kind, const std::string& message) {
  {
    MutexLock lock(&counters_->mu);
    counters_->errors[kind]++;
  }
  if (Stopping()) return;
  std::string state = kind + ": " + message;
  if (state != failing_) {
    LogWarn("kubernetes discovery: API error, keeping the last members",
            {{"kind", kind}, {"error", message}, {"members", last_members_.size()}});
  }
  failing_ = state;
}

void KubernetesPeerSource::Recovered() {
  if (!failing_.empty()) LogInfo("kubernetes discovery: API reachable again");
  failing_.clear();
}

bool KubernetesPeerSource::Backoff() {
  backoff_ms_ = backoff_ms_ == 0 ? options_.backoff_initial_ms
                                 : std::min(backoff_ms_ * 2, options_.backoff_max_ms);
  // Half fixed, half random: peers that failed together do not retry together.
  Millis wait = backoff_ms_ / 2 + static_cast<Millis>(rng_() % (backoff_ms_ / 2 + 1));
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait);
  MutexLock lock(&mu_);
  while (!stopping_.load() && cv_.WaitUntil(&mu_, until)) {
  }
  return !stopping_.load();
}

std::vector<SourceMetric> KubernetesPeerSource::Metrics() const {
  const Counters& c = *counters_;
  auto counter = [](const char* name, const char* help, double v,
                    std::vector<std::pair<std::string, std::string>> labels = {}) {
    return CounterMetric(name, help, v, std::move(labels));
  };
  std::vector<SourceMetric> out = {
      counter("podcache_discovery_k8s_lists_total", "Successful lists of the EndpointSlices.",
              c.lists.load()),
      counter("podcache_discovery_k8s_relists_total",
              "Lists forced by 410 Gone (resourceVersion too old).", c.relists.load()),
      counter("podcache_discovery_k8s_watch_restarts_total",
              "Watches started again after one ended.", c.watch_restarts.load()),
      counter("podcache_discovery_k8s_token_reloads_total", "Reads of the service-account token.",
              c.token_reloads.load()),
  };
  for (auto [type, v] : {std::pair{"ADDED", c.added.load()},
                         {"MODIFIED", c.modified.load()},
                         {"DELETED", c.deleted.load()},
                         {"BOOKMARK", c.bookmarks.load()},
                         {"ERROR", c.error_events.load()}}) {
    out.push_back(counter("podcache_discovery_k8s_events_total", "Watch events by type.", v,
                          {{"type", type}}));
  }
  Millis last = c.last_sync_ms.load();
  out.push_back(GaugeMetric("podcache_discovery_last_sync_age_seconds",
                            "Seconds since the last successful list or watch event (-1: never).",
                            last < 0 ? -1.0 : (clock_->NowMs() - last) / 1000.0));
  std::vector<std::pair<std::string, uint64_t>> errors;
  {
    MutexLock lock(&c.mu);
    errors.assign(c.errors.begin(), c.errors.end());
  }
  AppendSourceMetrics(c.updates.load(), c.members.load(), errors, &out);
  return out;
}

}  // namespace podcache
