#!/usr/bin/python3
"""podcache from Python: Set, Get, GetMany and Delete against the sidecar.

Generate the stubs once (Debian: python3-grpcio, protobuf-compiler, protobuf-compiler-grpc):
    ./make-stubs.sh            # writes ./gen
    ./client.py --addr 127.0.0.1:7070 --keyspace sessions
The keyspace must exist in the sidecar (e.g. --keyspace sessions). Exits 0 when every step
behaved as documented.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("PODCACHE_PYGEN", os.path.join(HERE, "gen")))

import grpc  # noqa: E402
from podcache.v1 import cache_pb2, cache_pb2_grpc  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", default="127.0.0.1:7070", help="host:port or unix:/path")
    p.add_argument("--keyspace", default="sessions")
    args = p.parse_args()
    ks = args.keyspace
    with grpc.insecure_channel(args.addr) as channel:
        cache = cache_pb2_grpc.CacheStub(channel)
        cache.Set(cache_pb2.SetRequest(keyspace=ks, key=b"py:1", value=b"hello from python", ttl_ms=60_000),
                  timeout=5)
        got = cache.Get(cache_pb2.GetRequest(keyspace=ks, key=b"py:1"), timeout=5)
        print("get py:1 ->", got.value.decode(), "source", cache_pb2.Source.Name(got.source), "ttl_ms", got.ttl_ms)
        assert got.value == b"hello from python"

        cache.Set(cache_pb2.SetRequest(keyspace=ks, key=b"py:2", value=b"second"), timeout=5)
        many = cache.GetMany(cache_pb2.GetManyRequest(keyspace=ks, keys=[b"py:1", b"py:2", b"py:none"]), timeout=5)
        for r in many.results:
            status = grpc.StatusCode.OK if r.code == 0 else [c for c in grpc.StatusCode if c.value[0] == r.code][0]
            print("getmany", r.key.decode(), "->", status.name, r.value.decode())
        assert [r.code for r in many.results] == [0, 0, grpc.StatusCode.NOT_FOUND.value[0]]

        cache.Delete(cache_pb2.DeleteRequest(keyspace=ks, key=b"py:1"), timeout=5)
        try:
            cache.Get(cache_pb2.GetRequest(keyspace=ks, key=b"py:1"), timeout=5)
            raise AssertionError("py:1 still there after Delete")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.NOT_FOUND, e
            print("get py:1 after delete ->", e.code().name)
    print("python client: ok")


if __name__ == "__main__":
    main()
