#!/usr/bin/python3
"""A pretend application that plays a slow database, as a podcache HTTP loader.

GET /cache/{keyspace}/{key} answers like a database lookup that takes --delay-ms:
  200 with the value "value-of-<key>" and Cache-Control: max-age=<--max-age>, except for keys
  that start with
    missing-  404 (the key does not exist)
    error-    500 (the database failed)
    slow-     200 after --slow-ms (longer than podcache's loader timeout in the tests)
    big-      200 with a body of --big-bytes bytes (more than the keyspace's value limit)
    short-    200 with Cache-Control: max-age=1
    chunked-  200 with a chunked body of --big-bytes bytes and no Content-Length
GET /calls returns {"<keyspace>/<key>": number of loads, ...} as JSON, so tests and the demo can
count how often podcache called the loader. Prints "listening <port>" once ready.
"""
import argparse
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    p.add_argument("--delay-ms", type=int, default=50)
    p.add_argument("--slow-ms", type=int, default=3000)
    p.add_argument("--big-bytes", type=int, default=2 << 20)
    p.add_argument("--max-age", type=int, default=300)
    args = p.parse_args()
    calls = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

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
            if self.path == "/calls":
                with lock:
                    body = json.dumps(calls).encode()
                return self.reply(200, body, [("Content-Type", "application/json")])
            parts = self.path.split("/")
            if len(parts) != 4 or parts[1] != "cache":
                return self.reply(400, b"want /cache/{keyspace}/{key}\n")
            keyspace = urllib.parse.unquote(parts[2])
            key = urllib.parse.unquote(parts[3])
            with lock:
                calls[keyspace + "/" + key] = calls.get(keyspace + "/" + key, 0) + 1
            time.sleep(args.delay_ms / 1000)
            cache_control = ("Cache-Control", "max-age=%d" % args.max_age)
            if key.startswith("missing-"):
                return self.reply(404, b"no such key\n")
            if key.startswith("error-"):
                return self.reply(500, b"database error\n")
            if key.startswith("slow-"):
                time.sleep(args.slow_ms / 1000)
            if key.startswith("big-"):
                return self.reply(200, b"x" * args.big_bytes, [cache_control])
            if key.startswith("short-"):
                cache_control = ("Cache-Control", "max-age=1")
            if key.startswith("chunked-"):
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"y" * 65536
                left = args.big_bytes
                try:
                    while left > 0:
                        n = min(left, len(chunk))
                        self.wfile.write(b"%x\r\n" % n + chunk[:n] + b"\r\n")
                        left -= n
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return
            self.reply(200, ("value-of-" + key).encode(), [cache_control])

    # podcache opens one connection per concurrent load: a backlog of 5 (the default) would drop
    # connection attempts under a burst and stall them for a 1 s SYN retransmit.
    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("listening %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
