#pragma once

#include <memory>
#include <string>

#include "core/loader.h"

namespace podcache {

// Fills misses by calling podcache.v1.Loader/Load on the application at `target` (plaintext; the
// application is in the same pod), with gRPC's callback API. found=false or NOT_FOUND ->
// NOT_FOUND; a value above `max_value_bytes` -> RESOURCE_EXHAUSTED; no answer within
// `timeout_ms` -> DEADLINE_EXCEEDED; other failures -> UNAVAILABLE. Thread-safe; `done` runs on a
// gRPC thread.
class GrpcLoader final : public Loader {
 public:
  GrpcLoader(const std::string& target, Millis timeout_ms, uint64_t max_value_bytes);
  ~GrpcLoader() override;
  void Load(std::string_view keyspace, std::string_view key, Millis deadline, DoneFn done) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace podcache
