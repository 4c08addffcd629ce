#include "tests/transport/fake_peer_server.h"

#include <stdexcept>

#include "transport/grpc_util.h"
#include "transport/response_budget.h"

namespace podcache::transport_test {

using namespace peer::v1;  // NOLINT: the message types of the peer protocol

namespace {

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// The answer to one key as a Get gets it.
grpc::Status Answer(const std::string& key, std::string* value, int64_t* ttl) {
  if (StartsWith(key, "missing")) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such key");
  if (StartsWith(key, "bad")) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad key");
  *value = "v:" + key;
  *ttl = 1000;
  return grpc::Status::OK;
}

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& keys) {
  std::string out;
  for (const std::string& k : keys) out += (out.empty() ? "" : ",") + k;
  return out;
}

}  // namespace

class FakePeerServer::Service final : public Peer::CallbackService {
 public:
  explicit Service(FakePeerServer* server) : server_(server) {}
  using Reactor = grpc::ServerUnaryReactor;
  using Context = grpc::CallbackServerContext;

  Reactor* Get(Context* ctx, const GetRequest* req, GetResponse* resp) override {
    server_->Mark(ctx);
    Reactor* reactor = ctx->DefaultReactor();
    server_->Handle("Get:" + req->key(), [this, reactor, req, resp] {
      grpc::Status s = server_->CallStatus();
      if (s.ok()) {  // the owner's answer travels in the body, as the real service sends it
        int64_t ttl = 0;
        grpc::Status answer = Answer(req->key(), resp->mutable_value(), &ttl);
        resp->set_code(static_cast<int>(answer.error_code()));
        resp->set_message(answer.error_message());
        resp->set_remaining_ttl_ms(ttl);
      }
      reactor->Finish(s);
    });
    return reactor;
  }

  Reactor* GetBatch(Context* ctx, const GetBatchRequest* req, GetBatchResponse* resp) override {
    server_->Mark(ctx);
    Reactor* reactor = ctx->DefaultReactor();
    server_->Handle("GetBatch:" + Join(req->keys()), [this, reactor, req, resp] {
      grpc::Status s = server_->CallStatus();
      if (!s.ok()) return reactor->Finish(s);
      int n = req->keys_size();
      {
        std::lock_guard lock(server_->mu_);
        if (server_->short_batches_) --n;
      }
      for (int i = 0; i < n; ++i) {
        GetBatchItem* item = resp->add_items();
        const std::string& key = req->keys(i);
        if (StartsWith(key, "big")) {
          item->set_code(static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
          item->set_message(ResponseBudget::kOverBudget);
          continue;
        }
        int64_t ttl = 0;
        grpc::Status one = Answer(key, item->mutable_value(), &ttl);
        item->set_code(static_cast<int>(one.error_code()));
        item->set_message(one.error_message());
        item->set_remaining_ttl_ms(ttl);
      }
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  Reactor* Set(Context* ctx, const SetRequest* req, WriteAck* ack) override {
    ack->set_members_acked(2);
    ack->set_members_pending(1);
    return Write(ctx, "Set:" + req->key());
  }
  Reactor* Delete(Context* ctx, const DeleteRequest* req, WriteAck* ack) override {
    ack->set_members_acked(2);
    ack->set_members_pending(1);
    return Write(ctx, "Delete:" + req->key());
  }
  Reactor* Repair(Context* ctx, const RepairRequest* req, Ack*) override {
    return Write(ctx, "Repair:" + Join(req->keys()) + (req->clear_hot() ? "|clear" : "") +
                          (req->generation() != 0 ? "|" + std::to_string(req->generation()) : ""));
  }
  Reactor* Sync(Context* ctx, const SyncRequest* req, SyncResponse* resp) override {
    resp->set_generation(42);
    return Write(ctx, "Sync:" + req->keyspace());
  }
  Reactor* DropHot(Context* ctx, const DropHotRequest* req, Ack*) override {
    return Write(ctx, "DropHot:" + req->key());
  }
  Reactor* AdvanceGeneration(Context* ctx, const AdvanceGenerationRequest* req, Ack*) override {
    return Write(ctx, "AdvanceGeneration:" + std::to_string(req->generation()));
  }
  Reactor* Ping(Context* ctx, const PingRequest*, PingResponse*) override {
    return Write(ctx, "Ping");
  }

 private:
  Reactor* Write(Context* ctx, std::string what) {
    server_->Mark(ctx);
    Reactor* reactor = ctx->DefaultReactor();
    server_->Handle(std::move(what), [this, reactor] { reactor->Finish(server_->CallStatus()); });
    return reactor;
  }

  FakePeerServer* server_;
};

FakePeerServer::FakePeerServer(std::shared_ptr<grpc::ServerCredentials> credentials)
    : service_(std::make_unique<Service>(this)) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0",
                           credentials != nullptr ? credentials : grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) throw std::runtime_error("fake peer server did not start");
  address_ = "127.0.0.1:" + std::to_string(port);
}

FakePeerServer::~FakePeerServer() {
  SetHold(false);
  ReleaseHeld();
  server_->Shutdown(std::chrono::system_clock::now() + kWaitLimit);
  server_->Wait();
}

void FakePeerServer::SetHold(bool hold) {
  std::lock_guard lock(mu_);
  hold_ = hold;
}

void FakePeerServer::FailCallsWith(grpc::StatusCode code) {
  std::lock_guard lock(mu_);
  fail_ = code;
}

void FakePeerServer::SetMarkAnswers(bool mark) {
  std::lock_guard lock(mu_);
  mark_answers_ = mark;
}

void FakePeerServer::Mark(grpc::CallbackServerContext* ctx) {
  std::lock_guard lock(mu_);
  if (mark_answers_) ctx->AddTrailingMetadata(kPeerAnswerKey, "1");
}

void FakePeerServer::SetShortBatches(bool shorten) {
  std::lock_guard lock(mu_);
  short_batches_ = shorten;
}

grpc::Status FakePeerServer::CallStatus() const {
  std::lock_guard lock(mu_);
  if (fail_ == grpc::StatusCode::OK) return grpc::Status::OK;
  return grpc::Status(fail_, "the fake peer fails this call");
}

void FakePeerServer::Handle(std::string what, std::function<void()> answer) {
  {
    std::lock_guard lock(mu_);
    received_.push_back(std::move(what));
    if (hold_) {
      held_.push_back(std::move(answer));
      cv_.notify_all();
      return;
    }
  }
  answer();
}

bool FakePeerServer::WaitHeld(size_t n) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, kWaitLimit, [&] { return held_.size() >= n; });
}

size_t FakePeerServer::ReleaseHeld() {
  std::vector<std::function<void()>> held;
  {
    std::lock_guard lock(mu_);
    held.swap(held_);
  }
  for (auto& answer : held) answer();
  return held.size();
}

std::vector<std::string> FakePeerServer::Received() const {
  std::lock_guard lock(mu_);
  return received_;
}

size_t FakePeerServer::held() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

}  // namespace podcache::transport_test
