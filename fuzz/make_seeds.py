#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: fuzz/corpus/<name>/seed-*.

Each target's input format is described at the top of fuzz/<name>.cc. Only seed-* files are
written; inputs added later (crashes found by fuzzing, named after what they found) are kept.
Run it after changing an input format:  python3 fuzz/make_seeds.py
"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data)


def u16(n):
    return struct.pack(">H", n)


# --- k8s_objects: API server bodies (JSON lists, watch streams, Status objects) -----------------

def slice_json(name, rv, addresses, port=7071, port_name="peer", address_type="IPv4"):
    endpoints = []
    for addr, cond in addresses:
        e = {"addresses": [addr]}
        if cond is not None:
            e["conditions"] = cond
        endpoints.append(e)
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": name, "resourceVersion": rv,
                         "labels": {"kubernetes.io/service-name": "podcache"}},
            "addressType": address_type, "endpoints": endpoints,
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}]}


def k8s_seeds():
    ready = {"ready": True, "serving": True, "terminating": False}
    a = slice_json("podcache-abc", "101", [("10.0.0.1", ready), ("10.0.0.2", None),
                                          ("10.0.0.3", {"ready": False}),
                                          ("10.0.0.4", {"ready": True, "terminating": True})])
    b = slice_json("podcache-v6", "102", [("fd00::1", ready)], address_type="IPv6")
    write("k8s_objects", "list.json", json.dumps(
        {"kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1",
         "metadata": {"resourceVersion": "103", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"},
         "items": [a, b]}))
    write("k8s_objects", "list-null-items.json",
          json.dumps({"kind": "EndpointSliceList", "metadata": {"resourceVersion": "7"},
                      "items": None}))
    fqdn = slice_json("podcache-fqdn", "9", [("pod.example.com", None)], address_type="FQDN")
    unnamed = slice_json("podcache-unnamed", "10", [("10.0.0.9", None)], port_name="")
    write("k8s_objects", "list-fqdn-unnamed-port.json",
          json.dumps({"metadata": {"resourceVersion": "11"}, "items": [fqdn, unnamed]}))
    events = [
        {"type": "ADDED", "object": a},
        {"type": "MODIFIED", "object": slice_json("podcache-abc", "104", [("10.0.0.5", None)])},
        {"type": "BOOKMARK", "object": {"kind": "EndpointSlice",
                                        "metadata": {"resourceVersion": "105"}}},
        {"type": "DELETED", "object": slice_json("podcache-abc", "106", [])},
        {"type": "ADDED", "object": b},
    ]
    write("k8s_objects", "watch.jsonl", "".join(json.dumps(e) + "\n" for e in events))
    write("k8s_objects", "watch-crlf-partial.jsonl",
          json.dumps(events[0]) + "\r\n\r\n\n" + json.dumps(events[1])[:40])
    write("k8s_objects", "watch-error-410.jsonl", json.dumps(
        {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                     "message": "too old resource version: 1 (200)",
                                     "reason": "Expired", "code": 410}}) + "\n")
    write("k8s_objects", "status-401.json", json.dumps(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": "Unauthorized", "reason": "Unauthorized", "code": 401}))
    write("k8s_objects", "watch-unknown-type.jsonl",
          '{"type":"SYNC","object":{}}\n{"type":"ADDED"}\n{"type":"ADDED","object":{"metadata":{}}}\n')


# --- nats_message: [settings] then records [op][16-bit length][payload] --------------------------

def nats_record(op, payload=b""):
    if isinstance(payload, str):
        payload = payload.encode()
    return bytes([op]) + u16(len(payload)) + payload


def nats_msg(kind, member, clock_steps=0):
    return nats_record(clock_steps << 2, "podcache.discovery/1 %s %s" % (kind, member))


def nats_seeds():
    # settings: max_members = settings % 8 + 1, expiry = [100ms, 5s, 1h, 9e15ms][settings>>3 % 4]
    s_8_5s = bytes([7 | 1 << 3])
    write("nats_message", "hello-beat-bye", s_8_5s + nats_msg("hello", "10.0.0.2:7071") +
          nats_msg("beat", "10.0.0.3:7071", 1) + nats_msg("beat", "10.0.0.2:7071", 2) +
          nats_msg("bye", "10.0.0.3:7071") + nats_msg("bye", "10.0.0.9:7071"))
    write("nats_message", "ipv6-and-names", s_8_5s + nats_msg("hello", "[fd00::5]:7071") +
          nats_msg("beat", "podcache-0.podcache.default.svc:7071") +
          nats_record(0, "podcache.discovery/1 beat 10.0.0.4:7071\n"))
    write("nats_message", "malformed", s_8_5s +
          nats_record(0, "podcache.discovery/2 hello 10.0.0.2:7071") +
          nats_record(0, "podcache.discovery/1 wave 10.0.0.2:7071") +
          nats_record(0, "podcache.discovery/1 hello 10.0.0.2") +
          nats_record(0, "podcache.discovery/1 hello fd00::1:7071") +
          nats_record(0, "podcache.discovery/1 hello " + "a" * 600 + ":1"))
    write("nats_message", "full-table", bytes([1 | 1 << 3]) + b"".join(
        nats_msg("beat", "10.0.0.%d:7071" % i) for i in range(2, 6)))
    write("nats_message", "expiry", bytes([7]) + nats_msg("beat", "10.0.0.2:7071") +
          nats_msg("beat", "10.0.0.3:7071", 4) + nats_record(1 | 5 << 2) +
          nats_record(2) + nats_record(3 | 9 << 2) + nats_record(1))
    write("nats_message", "self", s_8_5s + nats_msg("hello", "10.0.0.1:7071") + nats_record(1))
    write("nats_message", "huge-expiry", bytes([7 | 3 << 3]) + nats_msg("beat", "10.0.0.2:7071") +
          nats_record(1 | 63 << 2) + nats_record(1 | 63 << 2))


# --- dns_answer: [settings] then per query [status][16-bit length][DNS answer] -------------------

def dns_name(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_message(qname, qtype, answers, rcode=0):
    """answers: (type, rdata, name) with name None for the question's name (a pointer)."""
    header = struct.pack(">HHHHHH", 0x1234, 0x8180 | rcode, 1, len(answers), 0, 0)
    body = dns_name(qname) + struct.pack(">HH", qtype, 1)
    for rtype, rdata, name in answers:
        owner = b"\xc0\x0c" if name is None else dns_name(name)
        body += owner + struct.pack(">HHIH", rtype, 1, 30, len(rdata)) + rdata
    return header + body


A, AAAA, CNAME, SRV = 1, 28, 5, 33
SRV_NAME = "_peer._tcp.podcache.default.svc.cluster.local"


def srv_rdata(target, port, priority=0, weight=10):
    return struct.pack(">HHH", priority, weight, port) + dns_name(target)


def ok(message):
    return b"\0" + u16(len(message)) + message


def fail(kind):
    # 1 timeout, 2 SERVFAIL, 3 REFUSED, 4 NXDOMAIN, 5 NODATA, 6 connection refused, 7 bad answer
    return bytes([kind])


def a_answer(host, *addresses):
    return ok(dns_message(host, A, [(A, bytes(int(x) for x in a.split(".")), None)
                                    for a in addresses]))


def aaaa_answer(host, *addresses):
    import ipaddress
    return ok(dns_message(host, AAAA, [(AAAA, ipaddress.IPv6Address(a).packed, None)
                                       for a in addresses]))


def nodata(host, qtype):
    return ok(dns_message(host, qtype, []))


def dns_seeds():
    # settings: bit 0: A/AAAA mode (else SRV); family = [any, v4, v6][(s >> 1 & 3) % 3];
    # max_members = (s >> 3 & 7) + 1
    any8, v4_8, v6_8 = 7 << 3, 1 << 1 | 7 << 3, 2 << 1 | 7 << 3
    t1, t2, t3 = ("10-0-0-%d.podcache.default.svc.cluster.local" % i for i in (1, 2, 3))
    srv = ok(dns_message(SRV_NAME, SRV, [(SRV, srv_rdata(t1, 7071), None),
                                         (SRV, srv_rdata(t2, 7071), None)]))
    write("dns_answer", "srv-any", bytes([any8]) + srv + a_answer(t1, "10.0.0.1") +
          nodata(t1, AAAA) + a_answer(t2, "10.0.0.2") + aaaa_answer(t2, "fd00::2"))
    srv3 = ok(dns_message(SRV_NAME, SRV, [(SRV, srv_rdata(t, 7071), None) for t in (t3, t1, t2, t1)]))
    write("dns_answer", "srv-v4-capped", bytes([1 << 1 | 1 << 3]) + srv3 +
          a_answer(t1, "10.0.0.1") + a_answer(t2, "10.0.0.2", "10.0.0.22"))
    write("dns_answer", "srv-v6", bytes([v6_8]) + srv + aaaa_answer(t1, "fd00::1") +
          fail(4))
    write("dns_answer", "srv-empty-target-and-port", bytes([any8]) +
          ok(dns_message(SRV_NAME, SRV, [(SRV, srv_rdata(".", 7071), None),
                                         (SRV, srv_rdata(t1, 0), None)])))
    write("dns_answer", "srv-failures-then-answer", bytes([any8]) + fail(1) + fail(2) +
          ok(dns_message(SRV_NAME, SRV, [], rcode=3)) + srv + fail(1))
    write("dns_answer", "a-mode-v4", bytes([1 | v4_8]) + a_answer("podcache", "10.0.0.1",
                                                                 "10.0.0.2") +
          a_answer("podcache", "10.0.0.2") + fail(4))
    write("dns_answer", "a-mode-any", bytes([1 | any8]) + a_answer("podcache", "10.0.0.1") +
          aaaa_answer("podcache", "fd00::1", "fd00::2"))
    cname = dns_message("podcache", A, [(CNAME, dns_name("real.podcache"), None),
                                        (A, bytes([10, 0, 0, 7]), "real.podcache")])
    write("dns_answer", "a-mode-cname", bytes([1 | v4_8]) + ok(cname))
    write("dns_answer", "a-mode-v6-bad", bytes([1 | v6_8]) + ok(b"\x12\x34\x81\x80\0\1\0\1") +
          fail(7) + aaaa_answer("podcache", "::1"))


# --- config: YAML files, --keyspace specs, sizes, durations, tokens -------------------------------

def config_seeds():
    write("config", "readme.yaml", """api_listen: 127.0.0.1:7070
http_listen: 0.0.0.0:7072
shutdown_grace: 10s
keyspaces:
  - name: users
    max_bytes: 256MiB
    default_ttl: 5m
    negative_ttl: 10s
    eviction: slru
    loader: {http: "http://127.0.0.1:8080/cache/{keyspace}/{key}", timeout: 2s}
  - name: sessions          # cache-aside: the app calls Set
    max_bytes: 64MiB
    max_ttl: 1h
""")
    write("config", "cluster-kubernetes.yaml", """advertise: ${PODCACHE_FUZZ_POD_IP}:7071
insecure_peers: true
max_keys_per_call: 500
max_message_bytes: 4MiB
discovery:
  mode: kubernetes
  max_members: 64
  kubernetes: {service: podcache, namespace: default, port_name: peer, watch_timeout: 5m}
keyspaces:
  - {name: a.b-c_d, max_bytes: 1GiB, hot_share: 0.25, max_key_bytes: 128, max_value_bytes: 2MiB,
     load_concurrency: 8, load_queue: 0, load_timeout: 3s, hot_ttl: 30s, hot_promote_hits: 5,
     hot_window: 2s, eviction: wtinylfu, loader: {grpc: "127.0.0.1:9000", max_value_bytes: 1MiB}}
""")
    write("config", "cluster-dns-nats.yaml", """advertise: "[fd00::1]:7071"
tls: {cert: /tls/tls.crt, key: /tls/tls.key, ca: /tls/ca.crt, peer_name: podcache-peer, reload_interval: 10s}
peer_timeout: 1s
peer_max_inflight: 16
peer_max_batch: 64
membership_debounce: 200ms
discovery:
  mode: dns
  dns: {name: _peer._tcp.podcache.default.svc.cluster.local, port: 0, interval: 5s, server: "127.0.0.1:53", timeout: 1s, tries: 2}
  nats: {url: "nats://127.0.0.1:4222", subject: podcache.discovery.x, heartbeat: 1s, expiry: 5s}
  static: {peers: [10.0.0.1:7071, 10.0.0.2:7071], poll: 1s}
cluster_name: ${PODCACHE_FUZZ_UNSET:-podcache}
log_level: warn
keyspaces: [{name: s3, eviction: s3fifo, ttl: 1d}]
""")
    write("config", "bad.yaml", "keyspaces:\n  - name: x\n    loader: ftp://x\n  - max_bytes: [1]\n")
    write("config", "keyspace-spec",
          "users:max_bytes=64MiB,ttl=5m,max_ttl=1h,negative_ttl=10s,eviction=lru,hot_share=0.25,"
          "max_key_bytes=128,max_value_bytes=2MiB,load_concurrency=8,load_queue=100,"
          "load_timeout=3s,hot_ttl=30s,hot_promote_hits=5,hot_window=2s,"
          "loader=http://127.0.0.1:8080/cache/{keyspace}/{key},loader_timeout=1s,"
          "loader_max_value_bytes=1MiB")
    write("config", "keyspace-specs-env", "a:max_bytes=1MiB; b:loader=grpc://127.0.0.1:1\n c:ttl=1.5s ;;\n")
    write("config", "size", "1.5GiB")
    write("config", "size-large", "16000000000000000000")
    write("config", "duration", " 0.25s ")
    write("config", "duration-large", "104166666666d")
    write("config", "token", "s3cr3t-T0ken_with.symbols~")


# --- peer_service and cache_service: protobuf requests, hand-encoded --------------------------

def varint(n):
    n &= (1 << 64) - 1  # negative int64: ten bytes of two's complement
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def pb_bytes(field, value):
    if isinstance(value, str):
        value = value.encode()
    return varint(field << 3 | 2) + varint(len(value)) + value


def pb_int(field, value):
    return varint(field << 3) + varint(value)


LONG, SHORT = 0, 0x80 | 5  # deadline bytes: 5 s, 5 ms


def peer_seeds():
    # [method][deadline][request]: Get, GetBatch, Set, Delete, DropHot, AdvanceGeneration; the
    # request as raw bytes, since PeerService decodes them itself
    def call(name, method, request, deadline=LONG):
        write("peer_service", name, bytes([method, deadline]) + request)
    call("get", 0, pb_bytes(1, "users") + pb_bytes(2, "alice") + pb_int(3, 0x1234567890))
    call("get-slow-short-deadline", 0, pb_bytes(1, "users") + pb_bytes(2, "slow-1"), SHORT)
    call("get-cache-aside-missing", 0, pb_bytes(1, "sessions") + pb_bytes(2, "missing-x"))
    call("get-unknown-keyspace", 0, pb_bytes(1, "nope") + pb_bytes(2, "k"))
    call("get-batch", 1, pb_bytes(1, "users") + b"".join(
        pb_bytes(2, k) for k in ("a", "slow-b", "missing-c", "fail-d", "", "a", "ttl-e")))
    call("get-batch-short-deadline", 1, pb_bytes(1, "users") + b"".join(
        pb_bytes(2, "slow-%d" % i) for i in range(8)), SHORT)
    call("set", 2, pb_bytes(1, "users") + pb_bytes(2, "alice") + pb_bytes(3, "v1") +
         pb_int(4, 60000))
    call("set-default-ttl", 2, pb_bytes(1, "sessions") + pb_bytes(2, "down-1") +
         pb_bytes(3, "x" * 100) + pb_int(4, -1))
    call("set-huge-ttl", 2, pb_bytes(1, "sessions") + pb_bytes(2, "k") + pb_int(4, 2**63 - 1))
    call("delete", 3, pb_bytes(1, "users") + pb_bytes(2, "alice"))
    call("drop-hot", 4, pb_bytes(1, "users") + pb_bytes(2, "alice"))
    call("advance-generation", 5, pb_bytes(1, "users") + pb_int(2, 5))
    call("advance-generation-too-far", 5, pb_bytes(1, "sessions") + pb_int(2, 2**53 + 1))
    call("get-malformed", 0, b"\x0a\xff")
    call("get-batch-keyspace-not-utf8", 1, pb_bytes(1, b"\xffusers") + pb_bytes(2, "k"))


def cache_seeds():
    # [method][deadline][auth][request]: Get, GetMany, Set, Delete, InvalidateKeyspace, Stats;
    # auth 0 is the right token, 1 none, 4 the value that follows (length byte, bytes)
    def call(name, method, request, auth=0, deadline=LONG):
        write("cache_service", name, bytes([method, deadline, auth]) + request)
    call("get", 0, pb_bytes(1, "users") + pb_bytes(2, "alice"))
    call("get-no-token", 0, pb_bytes(1, "users") + pb_bytes(2, "alice"), auth=1)
    call("get-token-in-input", 0, bytes([len("Bearer fuzz-token")]) + b"Bearer fuzz-token" +
         pb_bytes(1, "users") + pb_bytes(2, "bob"), auth=4)
    call("get-malformed", 0, b"\xff\xff\xff")
    call("get-keyspace-not-utf8", 0, pb_bytes(1, b"us\xc3(ers") + pb_bytes(2, "k"))
    call("get-many", 1, pb_bytes(1, "users") + b"".join(
        pb_bytes(2, k) for k in ("alice", "missing-1", "fail-2", "slow-3", "down-4", "ttl-5",
                                 "", "alice")))
    call("get-many-short-deadline", 1, pb_bytes(1, "users") + b"".join(
        pb_bytes(2, "slow-%d" % i) for i in range(8)), deadline=SHORT)
    call("set", 2, pb_bytes(1, "sessions") + pb_bytes(2, "s1") + pb_bytes(3, "v") + pb_int(4, 0))
    call("set-negative-ttl", 2, pb_bytes(1, "sessions") + pb_bytes(2, "s1") + pb_int(4, -5))
    call("set-huge-ttl", 2, pb_bytes(1, "users") + pb_bytes(2, "u") + pb_int(4, 2**63 - 1))
    call("delete", 3, pb_bytes(1, "sessions") + pb_bytes(2, "down-s1"))
    call("invalidate", 4, pb_bytes(1, "users"))
    call("stats-all", 5, b"")
    call("stats-one", 5, pb_bytes(1, "sessions"))
    call("stats-unknown", 5, pb_bytes(1, "nope"))


def main():
    k8s_seeds()
    nats_seeds()
    dns_seeds()
    config_seeds()
    peer_seeds()
    cache_seeds()


if __name__ == "__main__":
    main()
