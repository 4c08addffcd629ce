#pragma once

#include <memory>

#include "core/status.h"
#include "discovery/peer_source.h"
#include "sidecar/config.h"

namespace podcache {

// The discovery source that `config.discovery` names, configured from its options. Errors name
// the option (a missing service account file, an unparsable URL...). REQUIRES: config.Validate().
StatusOr<std::unique_ptr<PeerSource>> MakePeerSource(const Config& config);

}  // namespace podcache
