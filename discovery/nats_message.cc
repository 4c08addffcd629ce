#include "discovery/nats_message.h"

#include "discovery/host_port.h"

namespace podcache {

const char* NatsTypeName(NatsMessage::Type type) {
  switch (type) {
    case NatsMessage::Type::kHello:
      return "hello";
    case NatsMessage::Type::kBeat:
      return "beat";
    case NatsMessage::Type::kBye:
      return "bye";
  }
  return "?";
}

std::string EncodeNatsMessage(const NatsMessage& message) {
  std::string out(kNatsProtocol);
  out.append(kNatsVersion).append(" ").append(NatsTypeName(message.type)).append(" ");
  return out.append(message.member);
}

NatsParseResult ParseNatsMessage(std::string_view data, NatsMessage* out) {
  if (data.size() > kMaxNatsMessageBytes) return NatsParseResult::kOversized;
  // A trailing newline is tolerated (a human with `nats pub` may add one); nothing else is.
  if (!data.empty() && data.back() == '\n') data.remove_suffix(1);
  size_t first = data.find(' ');
  if (first == std::string_view::npos) return NatsParseResult::kMalformed;
  std::string_view protocol = data.substr(0, first);
  if (protocol.substr(0, kNatsProtocol.size()) != kNatsProtocol) {
    return NatsParseResult::kMalformed;
  }
  if (protocol.substr(kNatsProtocol.size()) != kNatsVersion) return NatsParseResult::kVersion;
  size_t second = data.find(' ', first + 1);
  if (second == std::string_view::npos) return NatsParseResult::kMalformed;
  std::string_view type = data.substr(first + 1, second - first - 1);
  std::string_view member = data.substr(second + 1);
  if (type == "hello") {
    out->type = NatsMessage::Type::kHello;
  } else if (type == "beat") {
    out->type = NatsMessage::Type::kBeat;
  } else if (type == "bye") {
    out->type = NatsMessage::Type::kBye;
  } else {
    return NatsParseResult::kMalformed;
  }
  if (!IsValidHostPort(member)) return NatsParseResult::kMalformed;
  out->member = std::string(member);
  return NatsParseResult::kOk;
}

}  // namespace podcache
