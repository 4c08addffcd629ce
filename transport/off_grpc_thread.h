#pragma once

#include <functional>

namespace podcache {

// gRPC (1.51, callback API) runs callbacks on its own "nexting" threads, and destroying the last
// grpc::Channel of the process on one of them frees the callback completion queue while that very
// thread still uses it: "assertion failed: prior > 0" / double free in grpc_cq_internal_unref.
// A callback is where the last reference to a peer client (and its channel) is most often dropped
// (a member left the ring while its call was in flight; the server is gone), so channels that may
// die there are released through here instead.

// Marks the calling thread as one of gRPC's: the first thing every podcache gRPC callback does.
void MarkGrpcThread();
// True on a thread marked by MarkGrpcThread().
bool OnGrpcThread();
// Runs `fn` now when called on any other thread, else on a thread of podcache's own (started on
// first use, never stopped, one task at a time in order). For destroying gRPC objects.
void RunOffGrpcThread(std::function<void()> fn);
// Waits until every task handed to podcache's thread so far has run, at most `timeout_ms`; false
// when the time ran out. For tests, whose leak check runs at exit: a channel still waiting there
// to be destroyed would be reported as leaked.
bool WaitOffGrpcThreadIdle(long long timeout_ms);

}  // namespace podcache
