#include "transport/tls_reloader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>

#include "core/log.h"

namespace podcache {
namespace {

constexpr char kDirPrefix[] = "podcache-tls-";
constexpr char kLockFile[] = "lock";

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// Removes the directories of processes that died without removing theirs: a live owner holds an
// exclusive flock on <dir>/lock for its whole life.
void RemoveAbandoned(const std::string& base) {
  DIR* d = ::opendir(base.c_str());
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    if (std::strncmp(e->d_name, kDirPrefix, sizeof kDirPrefix - 1) != 0) continue;
    std::string dir = base + "/" + e->d_name;
    struct stat st;
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
      continue;
    }
    int fd = ::open((dir + "/" + kLockFile).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;  // being created, or not ours to judge
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
      LogInfo("peer TLS: removed the directory of an exited process", {{"dir", dir}});
    }
    ::close(fd);
  }
  ::closedir(d);
}

// A new private directory (0700) holding a locked lock file: under $TMPDIR, else /dev/shm (memory,
// and writable under a read-only root filesystem), else /tmp.
Status MakePrivateDir(std::string* dir, int* lock_fd) {
  std::vector<std::string> bases;
  if (const char* t = std::getenv("TMPDIR"); t != nullptr && *t != '\0') bases.push_back(t);
  bases.push_back("/dev/shm");
  bases.push_back("/tmp");
  std::string tried;
  for (const std::string& base : bases) {
    RemoveAbandoned(base);
    std::string tmpl = base + "/" + kDirPrefix + "XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      tried += (tried.empty() ? "" : "; ") + Errno(base);
      continue;
    }
    int fd = ::open((tmpl + "/" + kLockFile).c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      tried += (tried.empty() ? "" : "; ") + Errno(tmpl);
      if (fd >= 0) ::close(fd);
      std::error_code ignored;
      std::filesystem::remove_all(tmpl, ignored);
      continue;
    }
    *dir = tmpl;
    *lock_fd = fd;
    return OkStatus();
  }
  return UnavailableError("peer TLS: cannot create a private directory for the material in use (" +
                          tried + ")");
}

Status WriteFile(const std::string& path, const std::string& data, time_t mtime) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return InternalError(Errno("peer TLS: cannot create " + path));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status s = InternalError(Errno("peer TLS: cannot write " + path));
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  timespec times[2] = {{mtime, 0}, {mtime, 0}};
  bool ok = ::futimens(fd, times) == 0;
  Status s = ok ? OkStatus() : InternalError(Errno("peer TLS: cannot set the mtime of " + path));
  ::close(fd);
  return s;
}

// Identifies a content without keeping it (the key is part of it); never 0.
size_t Fingerprint(const TlsMaterial& m) {
  std::hash<std::string_view> h;
  size_t f = h(m.cert_pem) ^ (h(m.key_pem) * 31) ^ (h(m.ca_pem) * 131);
  return f == 0 ? 1 : f;
}
size_t Fingerprint(const Status& read_error) {
  size_t f = std::hash<std::string>()(read_error.message());
  return f == 0 ? 1 : f;
}

}  // namespace

StatusOr<std::shared_ptr<TlsReloader>> TlsReloader::Start(const TlsFiles& files,
                                                          Scheduler* scheduler) {
  auto fail = [](const Status& s) { return InvalidArgumentError("peer TLS: " + s.message()); };
  if (files.peer_name.empty()) return InvalidArgumentError("peer TLS: tls_peer_name is empty");
  StatusOr<TlsMaterial> m = ReadTlsMaterial(files);
  if (!m.ok()) return fail(m.status());
  StatusOr<CertificateInfo> pair = CheckTlsPair(m.value());
  if (!pair.ok()) return fail(pair.status());
  StatusOr<CertificateInfo> full =
      ValidateTlsMaterial(m.value(), files.peer_name, static_cast<int64_t>(std::time(nullptr)));
  if (!full.ok()) {
    LogWarn("peer TLS: peers will refuse this node's certificate",
            {{"reason", full.status().message()}, {"cert", files.cert}, {"ca", files.ca}});
  }
  std::string dir;
  int lock_fd = -1;
  if (Status s = MakePrivateDir(&dir, &lock_fd); !s.ok()) return s;
  std::shared_ptr<TlsReloader> r(new TlsReloader(files, scheduler, dir, lock_fd));
  {
    MutexLock lock(&r->mu_);
    if (Status s = r->Publish(m.value()); !s.ok()) return s;
    r->Accept(m.value(), pair.value());
  }
  if (scheduler != nullptr) r->ScheduleNext();
  return r;
}

TlsReloader::TlsReloader(const TlsFiles& files, Scheduler* scheduler, std::string dir, int lock_fd)
    : files_(files), scheduler_(scheduler), dir_(std::move(dir)), lock_fd_(lock_fd) {}

TlsReloader::~TlsReloader() {
  {
    MutexLock lock(&task_mu_);
    stopped_ = true;
    if (scheduler_ != nullptr && task_ != 0) scheduler_->Cancel(task_);
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
  ::close(lock_fd_);
}

void TlsReloader::ScheduleNext() {
  MutexLock lock(&task_mu_);
  if (stopped_) return;
  std::weak_ptr<TlsReloader> weak = weak_from_this();
  task_ = scheduler_->RunAfter(std::max<int64_t>(files_.reload_interval_ms, 1), [weak] {
    if (std::shared_ptr<TlsReloader> self = weak.lock()) {
      self->Poll();
      self->ScheduleNext();
    }
  });
}

std::shared_ptr<X509_STORE> TlsReloader::ca_store() const {
  MutexLock lock(&in_use_mu_);
  return ca_store_;
}

CertificateInfo TlsReloader::in_use() const {
  MutexLock lock(&in_use_mu_);
  return in_use_;
}

void TlsReloader::Poll() {
  MutexLock lock(&mu_);
  StatusOr<TlsMaterial> m = ReadTlsMaterial(files_);
  if (m.ok() && m.value() == current_) {
    last_rejected_ = 0;  // back to the material in use: a bad content that returns is told again
    return;
  }
  StatusOr<CertificateInfo> verdict =
      m.ok() ? ValidateTlsMaterial(m.value(), files_.peer_name,
                                   static_cast<int64_t>(std::time(nullptr)))
             : StatusOr<CertificateInfo>(m.status());
  if (!verdict.ok()) {
    // Files caught in the middle of a replacement (read again, and they differ) are judged at the
    // next interval, without a warning.
    StatusOr<TlsMaterial> again = ReadTlsMaterial(files_);
    if (m.ok() != again.ok() || (m.ok() && !(m.value() == again.value()))) return;
  } else if (Status s = Publish(m.value()); !s.ok()) {
    verdict = s;
  }
  if (verdict.ok()) {
    Accept(m.value(), verdict.value());
    return;
  }
  size_t fingerprint = m.ok() ? Fingerprint(m.value()) : Fingerprint(m.status());
  if (fingerprint == last_rejected_) return;  // told once already
  last_rejected_ = fingerprint;
  stats_.rejected.fetch_add(1, std::memory_order_relaxed);
  CertificateInfo kept = in_use();
  LogWarn("peer TLS reload rejected: keeping the certificate in use",
          {{"reason", verdict.status().message()},
           {"cert", files_.cert},
           {"key", files_.key},
           {"ca", files_.ca},
           {"in_use_serial", kept.serial},
           {"in_use_not_after", kept.not_after_text}});
}

Status TlsReloader::Publish(const TlsMaterial& m) {
  uint64_t gen = generation_ + 1;
  std::string name = "gen-" + std::to_string(gen);
  std::string path = dir_ + "/" + name;
  if (::mkdir(path.c_str(), 0700) != 0) {
    return InternalError(Errno("peer TLS: cannot create " + path));
  }
  // Strictly increasing, so that gRPC's before/after mtime check sees any swap (see the header).
  int64_t mtime = std::max<int64_t>(static_cast<int64_t>(std::time(nullptr)), last_mtime_ + 1);
  for (auto [file, data] :
       {std::pair{"/cert.pem", &m.cert_pem}, {"/key.pem", &m.key_pem}, {"/ca.pem", &m.ca_pem}}) {
    if (Status s = WriteFile(path + file, *data, static_cast<time_t>(mtime)); !s.ok()) {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
      return s;
    }
  }
  std::string link = dir_ + "/current.new";
  ::unlink(link.c_str());
  if (::symlink(name.c_str(), link.c_str()) != 0 ||
      ::rename(link.c_str(), (dir_ + "/current").c_str()) != 0) {
    Status s = InternalError(Errno("peer TLS: cannot switch " + dir_ + "/current"));
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
    return s;
  }
  generation_ = gen;
  last_mtime_ = mtime;
  // The previous generation stays: gRPC may have resolved `current` to it a moment ago.
  if (gen > 2) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_ + "/gen-" + std::to_string(gen - 2), ignored);
  }
  return OkStatus();
}

void TlsReloader::Accept(const TlsMaterial& m, const CertificateInfo& info) {
  std::string changed;
  if (generation_ > 1) {
    for (auto [name, same] : {std::pair{"cert", m.cert_pem == current_.cert_pem},
                              {"key", m.key_pem == current_.key_pem},
                              {"ca", m.ca_pem == current_.ca_pem}}) {
      if (!same) changed += std::string(changed.empty() ? "" : ",") + name;
    }
  }
  std::shared_ptr<X509_STORE> ca = CaStoreFromPem(m.ca_pem);
  {
    MutexLock lock(&in_use_mu_);
    ca_store_ = std::move(ca);
    in_use_ = info;
  }
  current_ = m;
  last_rejected_ = 0;
  if (generation_ > 1) stats_.ok.fetch_add(1, std::memory_order_relaxed);
  stats_.not_after.store(info.not_after, std::memory_order_relaxed);
  if (generation_ == 1) {
    LogInfo(
        "peer TLS certificate loaded",
        {{"subject", info.subject}, {"serial", info.serial}, {"not_after", info.not_after_text}});
  } else {
    LogInfo("peer TLS certificate reloaded", {{"subject", info.subject},
                                              {"serial", info.serial},
                                              {"not_after", info.not_after_text},
                                              {"changed", changed},
                                              {"generation", static_cast<long long>(generation_)}});
  }
}

}  // namespace podcache
