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

// Reads a YAML configuration file on top of `config` (for tests and ParseCommandLine). Every
// problem (missing, a directory, larger than kMaxConfigFileBytes, bad YAML, an unknown key, an
// unset ${VAR}) is an INVALID_ARGUMENT naming the file.
Status LoadConfigFile(const std::string& path, Config* config);
// The same for YAML text.
Status LoadConfigText(const std::string& text, Config* config);
inline constexpr size_t kMaxConfigFileBytes = 1 << 20;

// The app API token from a file: trailing whitespace is dropped; an empty, unreadable, non-regular
// or oversized (kMaxTokenBytes) file, or a token that cannot travel in a header, is an error
// naming the file. Never "no token": a broken file must not turn authentication off.
StatusOr<std::string> ReadTokenFile(const std::string& path);
// OK when `token` is printable ASCII without spaces.
Status CheckToken(const std::string& token);
inline constexpr size_t kMaxTokenBytes = 4096;

// The keyspace specs of PODCACHE_KEYSPACE: separated by newlines or ';', blanks trimmed.
std::vector<std::string> SplitKeyspaceSpecs(std::string_view text);

}  // namespace podcache
