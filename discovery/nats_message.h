#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace podcache {

// The NATS discovery protocol, version 1: one line of text per message on the cluster's
// subject (or on the reply subject of a hello):
//
//   podcache.discovery/1 hello 10.0.0.7:7071   I am here (at start, after a reconnect); who else
//                                              is? Receivers answer on the reply subject with
//                                              their own beat.
//   podcache.discovery/1 beat 10.0.0.7:7071    I am still here (every heartbeat interval)
//   podcache.discovery/1 bye 10.0.0.7:7071     I am leaving (SIGTERM)
//
// Text rather than JSON keeps discovery free of a JSON library and lets an operator read the
// subject with `nats sub`. Anything else is dropped: a wrong shape, an unknown type or a member
// that is not host:port is malformed; another version number is "version"; more than
// kMaxNatsMessageBytes is oversized.
inline constexpr size_t kMaxNatsMessageBytes = 512;
inline constexpr std::string_view kNatsProtocol = "podcache.discovery/";
inline constexpr std::string_view kNatsVersion = "1";

struct NatsMessage {
  enum class Type { kHello, kBeat, kBye };
  Type type = Type::kBeat;
  std::string member;
};

enum class NatsParseResult { kOk, kMalformed, kOversized, kVersion };

std::string EncodeNatsMessage(const NatsMessage& message);
NatsParseResult ParseNatsMessage(std::string_view data, NatsMessage* out);

const char* NatsTypeName(NatsMessage::Type type);

}  // namespace podcache
