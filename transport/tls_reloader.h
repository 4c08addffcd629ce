#pragma once

#include <openssl/x509_vfy.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/mutex.h"
#include "core/scheduler.h"
#include "core/status.h"
#include "transport/tls.h"
#include "transport/tls_material.h"

namespace podcache {

struct TlsReloadStats {
  std::atomic<uint64_t> ok{0};        // new material published (not the first load)
  std::atomic<uint64_t> rejected{0};  // distinct candidate contents refused
  std::atomic<int64_t> not_after{0};  // notAfter of the certificate in use, seconds since epoch
};

// The peer TLS material in use: the configured files are re-read every reload interval, and a
// new content is used only when ValidateTlsMaterial accepts it (the key is the certificate's, the
// certificate verifies against the CA, carries the peer name, is within its validity and allows
// both TLS roles). A CA change is a candidate too: the certificate in use must verify against the
// new CA. Anything else keeps the material in use, with one JSON warning and one count per
// distinct refused content (a certificate replaced before its key is refused until the key
// arrives).
//
// What gRPC reads: accepted material is published into a private directory (mode 0700 under
// $TMPDIR, /dev/shm or /tmp) as gen-N/{cert,key,ca}.pem, and a symlink `current` is swapped to
// the new generation with rename(2), so FileWatcherCertificateProvider (watching
// current/{key,cert,ca}.pem) never sees a half-written pair. It opens the key and the certificate
// one after the other, so a swap between the two opens could mix generations; its own guard is
// that the files' mtimes (in seconds) are the same before and after it read them, and it retries
// otherwise. Every generation's files get an mtime strictly greater than the previous
// generation's, so a read that straddles a swap always fails that guard: the provider can only
// take a pair from one generation. Generations before the previous one are removed; the
// directory is removed with the object, and directories left by a process that died (no longer
// holding the flock on its lock file) are removed at the next start.
//
// Thread-safe.
class TlsReloader : public std::enable_shared_from_this<TlsReloader> {
 public:
  // Reads the files; they must parse and the key must match the certificate (CheckTlsPair), else
  // INVALID_ARGUMENT "peer TLS: ...". Material that parses but that peers would refuse is loaded
  // with a warning (startup does not get stricter than before). With `scheduler`, Poll() runs
  // every files.reload_interval_ms; the scheduler must outlive the object.
  static StatusOr<std::shared_ptr<TlsReloader>> Start(const TlsFiles& files, Scheduler* scheduler);
  ~TlsReloader();
  TlsReloader(const TlsReloader&) = delete;
  TlsReloader& operator=(const TlsReloader&) = delete;

  // One pass: re-read the files and publish or refuse what changed.
  void Poll();

  const TlsFiles& files() const { return files_; }
  // The published files, for FileWatcherCertificateProvider.
  std::string cert_path() const { return dir_ + "/current/cert.pem"; }
  std::string key_path() const { return dir_ + "/current/key.pem"; }
  std::string ca_path() const { return dir_ + "/current/ca.pem"; }
  const std::string& dir() const { return dir_; }
  // The CA in use, for verifying peers.
  std::shared_ptr<X509_STORE> ca_store() const;
  CertificateInfo in_use() const;
  const TlsReloadStats& stats() const { return stats_; }

 private:
  TlsReloader(const TlsFiles& files, Scheduler* scheduler, std::string dir, int lock_fd);
  Status Publish(const TlsMaterial& m) REQUIRES(mu_);
  void Accept(const TlsMaterial& m, const CertificateInfo& info) REQUIRES(mu_);
  void ScheduleNext();

  const TlsFiles files_;
  Scheduler* const scheduler_;
  const std::string dir_;
  const int lock_fd_;
  TlsReloadStats stats_;

  Mutex mu_;  // one Poll at a time
  TlsMaterial current_ GUARDED_BY(mu_);
  uint64_t generation_ GUARDED_BY(mu_) = 0;
  int64_t last_mtime_ GUARDED_BY(mu_) = 0;
  size_t last_rejected_ GUARDED_BY(mu_) = 0;  // fingerprint of the last refused content; 0: none

  mutable Mutex in_use_mu_;
  std::shared_ptr<X509_STORE> ca_store_ GUARDED_BY(in_use_mu_);
  CertificateInfo in_use_ GUARDED_BY(in_use_mu_);

  Mutex task_mu_;
  bool stopped_ GUARDED_BY(task_mu_) = false;
  Scheduler::TaskId task_ GUARDED_BY(task_mu_) = 0;
};

}  // namespace podcache
