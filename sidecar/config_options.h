#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "sidecar/config.h"

namespace podcache {

// One top-level option of `podcache`: the flag --flag, the variable PODCACHE_FLAG and the YAML key
// `yaml` (dotted: "tls.cert" is `cert:` under `tls:`).
struct ConfigOption {
  const char* flag;
  const char* yaml;
  const char* help;
  bool is_bool;  // a flag without a value (--insecure-peers), or with =true/=false
  // Parses `value` into the option's field; an error names the YAML key and the value.
  std::function<Status(Config&, const std::string& value)> set;
  // The field as text, as `set` reads it back (--help defaults, --validate-config).
  std::function<std::string(const Config&)> show;
};

// Every top-level option, in --help order.
const std::vector<ConfigOption>& ConfigOptions();

// "api-listen" -> "PODCACHE_API_LISTEN".
std::string EnvName(const std::string& flag);

}  // namespace podcache
