// podcache: the sidecar. Parses the configuration and runs until SIGTERM or SIGINT.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "core/log.h"
#include "sidecar/config_loader.h"
#include "sidecar/sidecar.h"
#include "transport/grpc_util.h"

int main(int argc, char** argv) {
  podcache::RouteGrpcLogsToJson();  // every line podcache prints is JSON
  podcache::CommandLine cl = podcache::ParseCommandLine(argc, argv);
  if (cl.exit) return cl.exit_code;
  podcache::LogLevel level;
  podcache::ParseLogLevel(cl.config.log_level, &level);
  podcache::SetLogLevel(level);

  // Signals are taken by sigwait below, so block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  podcache::Sidecar sidecar(cl.config);
  if (podcache::Status s = sidecar.Start(); !s.ok()) {
    podcache::LogError("cannot start", {{"error", s.message()}});
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  podcache::LogInfo("signal received", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  // A second signal during the drain exits at once.
  std::thread second([&signals] {
    int again = 0;
    sigwait(&signals, &again);
    podcache::LogWarn("second signal: exiting without draining");
    _exit(1);
  });
  second.detach();
  sidecar.Shutdown();
  return 0;
}
