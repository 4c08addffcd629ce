#!/usr/bin/python3
"""The fault suite's HTTP loader: one process for the whole cluster (every namespace reaches it on
the bridge address), run by fault_cluster.FaultLoader.

GET /cache/{keyspace}/{key}   a load: counted per key (with its start time on CLOCK_MONOTONIC,
                              which the test process shares), answered after `delay_ms` with the
                              current `status` (200: "value-of-<key>"), and `cache_control` as
                              the Cache-Control header when set
GET /calls                    {"<keyspace>/<key>": [start times...]} of every load so far
GET /set?status=500&delay_ms=200&cache_control=...   changes the behaviour for the next loads
GET /put?name=<keyspace>/<key>&value=<v>   the "database" changes: loads of that key answer <v>
Prints "listening <port>" once it serves."""
import argparse
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_KEYS = 100000  # bounded: a runaway test cannot grow the table without limit


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--delay-ms", type=int, default=200)
    args = p.parse_args()
    state = {"status": 200, "delay_ms": args.delay_ms, "cache_control": ""}
    calls = {}
    values = {}  # "<keyspace>/<key>" -> the value the database has now, when not "value-of-<key>"
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Buffered: the status line, headers and body leave in one segment (flushed after each
        # request), not stalled by Nagle and a delayed ACK (40 ms) between headers and body.
        wbufsize = 65536

        def log_message(self, *a):
            pass

        def reply(self, status, body, headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/calls":
                with lock:
                    body = json.dumps(calls).encode()
                return self.reply(200, body, [("Content-Type", "application/json")])
            if url.path == "/set":
                q = urllib.parse.parse_qs(url.query)
                with lock:
                    if "status" in q:
                        state["status"] = int(q["status"][0])
                    if "delay_ms" in q:
                        state["delay_ms"] = int(q["delay_ms"][0])
                    if "cache_control" in q:
                        state["cache_control"] = q["cache_control"][0]
                return self.reply(200, b"ok\n")
            if url.path == "/put":
                q = urllib.parse.parse_qs(url.query)
                with lock:
                    if len(values) >= MAX_KEYS:
                        return self.reply(507, b"too many values\n")
                    values[q["name"][0]] = q["value"][0].encode()
                return self.reply(200, b"ok\n")
            parts = url.path.split("/")
            if len(parts) != 4 or parts[1] != "cache":
                return self.reply(400, b"want /cache/{keyspace}/{key}\n")
            name = urllib.parse.unquote(parts[2]) + "/" + urllib.parse.unquote(parts[3])
            start = time.monotonic()
            with lock:
                if name in calls or len(calls) < MAX_KEYS:
                    calls.setdefault(name, []).append(start)
                status, delay_ms, cache_control = state["status"], state["delay_ms"], state["cache_control"]
                value = values.get(name, ("value-of-" + urllib.parse.unquote(parts[3])).encode())
            time.sleep(delay_ms / 1000)
            headers = [("Cache-Control", cache_control)] if cache_control else []
            if status != 200:
                return self.reply(status, b"database error\n")
            self.reply(200, value, headers)

    # One connection per concurrent load: a deep backlog, so that a burst is not stalled by SYN retries.
    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer((args.host, 0), Handler)
    server.daemon_threads = True
    print("listening %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
