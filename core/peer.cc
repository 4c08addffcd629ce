#include "core/peer.h"

namespace podcache {

std::string_view PeerHealthName(PeerHealth h) {
  switch (h) {
    case PeerHealth::kUp:
      return "up";
    case PeerHealth::kSuspect:
      return "suspect";
    case PeerHealth::kEjected:
      return "ejected";
  }
  return "up";
}

}  // namespace podcache
