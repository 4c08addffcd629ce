#!/usr/bin/python3
"""The client of `make demo`: shows misses becoming hits, and a thundering herd collapsing into
one load. Uses one gRPC channel, as an application would."""
import argparse
import os
import sys
import time

sys.path.insert(0, os.environ.get("PODCACHE_PYGEN", os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen")))

import grpc  # noqa: E402
from podcache.v1 import cache_pb2, cache_pb2_grpc  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", default="127.0.0.1:7070")
    p.add_argument("--keyspace", default="users")
    args = p.parse_args()
    with grpc.insecure_channel(args.addr) as channel:
        cache = cache_pb2_grpc.CacheStub(channel)
        grpc.channel_ready_future(channel).result(timeout=5)
        for label in ("first read (miss)", "second read (hit)"):
            for i in range(1, 4):
                start = time.perf_counter()
                r = cache.Get(cache_pb2.GetRequest(keyspace=args.keyspace, key=b"user:%d" % i), timeout=5)
                took = (time.perf_counter() - start) * 1000
                print("  %-18s user:%d = %-16s from %-7s %8.2f ms" % (
                    label, i, r.value.decode(), cache_pb2.Source.Name(r.source)[7:].lower(), took))
        print()
        start = time.perf_counter()
        calls = [cache.Get.future(cache_pb2.GetRequest(keyspace=args.keyspace, key=b"user:hot"), timeout=5)
                 for _ in range(50)]
        sources = [cache_pb2.Source.Name(c.result().source)[7:].lower() for c in calls]
        took = (time.perf_counter() - start) * 1000
        print("  50 concurrent reads of user:hot answered in %.0f ms total; sources: %s" % (
            took, ", ".join("%d %s" % (sources.count(s), s) for s in sorted(set(sources)))))


if __name__ == "__main__":
    main()
