#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "sidecar/config.h"

namespace podcache {

// The outcome of reading the command line: run with `config`, or exit at once with `exit_code`
// after `output` has been printed (--help, --version, or a configuration error).
struct CommandLine {
  bool exit = false;
  int exit_code = 0;
  Config config;
};

// Builds the configuration of `podcache` from, in increasing precedence: built-in defaults, the
// YAML file named by --config (or PODCACHE_CONFIG), PODCACHE_* environment variables, and flags.
// Keyspaces from --keyspace replace those of the same name in the file. The YAML file may use
// ${VAR} to insert environment variables. Prints help, version or the error itself.
CommandLine ParseCommandLine(int argc, const char* const* argv);

// Reads a YAML configuration file on top of `config` (for tests and ParseCommandLine).
Status LoadConfigFile(const std::string& path, Config* config);

}  // namespace podcache
