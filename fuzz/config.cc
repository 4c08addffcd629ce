// Fuzz target: the sidecar's configuration text, everything an operator (or a chart, or an
// environment variable) writes: the YAML file (LoadConfigText, what LoadConfigFile reads), a
// --keyspace spec and PODCACHE_KEYSPACE's list of them (ParseKeyspaceSpec,
// SplitKeyspaceSpecs), sizes and durations (ParseBytes, ParseDuration) and the API token
// (CheckToken). Every input is read all these ways; whatever parses is checked with
// Config::Validate.
// Checks: a size or duration prints back (FormatBytes, FormatDuration) to text that parses to
// the same value; a configuration that validates has 1..kMaxKeyspaces keyspaces of distinct
// names, each of which validates on its own.
#include "sidecar/config.h"

#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "core/log.h"
#include "fuzz/fuzz_check.h"
#include "sidecar/config_loader.h"
#include "sidecar/units.h"

namespace podcache {
namespace {

void CheckValid(const Config& config) {
  if (!config.Validate().ok()) return;
  FUZZ_CHECK(!config.keyspaces.empty() && config.keyspaces.size() <= Config::kMaxKeyspaces);
  std::set<std::string> names;
  for (const KeyspaceConfig& ks : config.keyspaces) {
    FUZZ_CHECK(names.insert(ks.options.name).second);
    FUZZ_CHECK(ks.options.Validate().ok());
    FUZZ_CHECK(ks.options.max_value_bytes <= config.max_message_bytes);
  }
}

void CheckKeyspaceSpec(const std::string& spec) {
  auto ks = ParseKeyspaceSpec(spec);
  if (!ks.ok()) return;
  Config config;
  config.keyspaces.push_back(std::move(ks).value());
  CheckValid(config);
}

void CheckUnits(const std::string& text) {
  if (auto bytes = ParseBytes(text); bytes.ok()) {
    auto again = ParseBytes(FormatBytes(bytes.value()));
    FUZZ_CHECK(again.ok() && again.value() == bytes.value());
  }
  if (auto ms = ParseDuration(text); ms.ok()) {
    FUZZ_CHECK(ms.value() >= 0);
    auto again = ParseDuration(FormatDuration(ms.value()));
    FUZZ_CHECK(again.ok() && again.value() == ms.value());
  }
}

}  // namespace
}  // namespace podcache

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  podcache::SetLogLevel(podcache::LogLevel::kError);
  // Variables a YAML file may refer to as ${VAR} (the dictionary names them).
  setenv("PODCACHE_FUZZ_POD_IP", "10.1.2.3", 1);
  setenv("PODCACHE_FUZZ_EMPTY", "", 1);
  unsetenv("PODCACHE_FUZZ_UNSET");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podcache;
  std::string text(reinterpret_cast<const char*>(data), size);
  Config config;
  if (LoadConfigText(text, &config).ok()) CheckValid(config);
  CheckKeyspaceSpec(text);
  for (const std::string& spec : SplitKeyspaceSpecs(text)) CheckKeyspaceSpec(spec);
  CheckUnits(text);
  if (CheckToken(text).ok()) {
    for (char c : text) FUZZ_CHECK(c > ' ' && c < 0x7f);
  }
  return 0;
}
