#!/usr/bin/python3
"""The client of `make demo`, against a 3-node podcache cluster: which node owns which key, one
load per key across the cluster, hot copies, and a node killed under the client's feet."""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.environ.get("PODCACHE_PYGEN", os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen")))

import grpc  # noqa: E402
from podcache.v1 import cache_pb2, cache_pb2_grpc  # noqa: E402

SOURCE = {v: k[7:].lower() for k, v in cache_pb2.Source.items()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--api", required=True, help="comma-separated app API addresses, one per node")
    p.add_argument("--http", required=True, help="comma-separated HTTP addresses, one per node")
    p.add_argument("--peers", required=True, help="comma-separated peer addresses, one per node")
    p.add_argument("--apps", required=True, help="comma-separated loader app ports, one per node")
    p.add_argument("--pids", required=True, help="comma-separated podcache pids, one per node")
    p.add_argument("--ctl", required=True, help="podcachectl binary")
    a = p.parse_args()
    apis, https, peers = a.api.split(","), a.http.split(","), a.peers.split(",")
    apps, pids = a.apps.split(","), [int(x) for x in a.pids.split(",")]
    stubs = [cache_pb2_grpc.CacheStub(grpc.insecure_channel(x)) for x in apis]
    name = {peer: "node%d" % i for i, peer in enumerate(peers)}
    keys = ["user:%d" % i for i in range(1, 7)]
    later = ["order:%d" % i for i in range(1, 31)]
    owners = subprocess.run([a.ctl, "--http", https[0], "owner", *keys, *later], capture_output=True,
                            text=True, check=True).stdout.split("\n")
    owner = {line.split()[0]: name[line.split()[1]] for line in owners if line}

    def get(i, key):
        start = time.perf_counter()
        r = stubs[i].Get(cache_pb2.GetRequest(keyspace="users", key=key.encode()), timeout=5)
        return r, (time.perf_counter() - start) * 1000

    def loads():
        total = {}
        for port in apps:
            with urllib.request.urlopen("http://127.0.0.1:%s/calls" % port) as f:
                for k, n in json.load(f).items():
                    total[k] = total.get(k, 0) + n
        return total

    print("  each key has one owner on the ring:")
    print("    " + "  ".join("%s->%s" % (k, owner[k]) for k in keys))
    print("\n  every node reads every key; only the owner calls its app's loader:")
    for key in keys:
        line = []
        for i in range(3):
            r, ms = get(i, key)
            line.append("node%d:%-6s %6.1fms" % (i, SOURCE[r.source], ms))
        print("    %-7s (owner %s)  %s" % (key, owner[key], "  ".join(line)))
    calls = loads()
    print("  database lookups across the cluster: " + ", ".join("%s=%d" % (k[6:], calls.get(k, 0))
                                                                for k in ("users/" + k for k in keys)))

    hot = "user:1"
    reader = next(i for i in range(3) if "node%d" % i != owner[hot])
    sources = [SOURCE[get(reader, hot)[0].source] for _ in range(5)]
    print("\n  node%d reads %s (owned by %s) 5 times; it becomes a hot copy: %s" % (
        reader, hot, owner[hot], " ".join(sources)))

    victim = 2
    os.kill(pids[victim], signal.SIGKILL)
    print("\n  kill -9 node%d; its keys are still served (the survivors load them themselves):" % victim)
    for key in [k for k in later if owner[k] == "node%d" % victim][:3]:
        r, ms = get(0, key)
        print("    node0 get %-9s (owner node%d, dead) -> %s from %s in %.1f ms" % (
            key, victim, r.value.decode(), SOURCE[r.source], ms))


if __name__ == "__main__":
    main()
