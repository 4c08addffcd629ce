"""A test double of the Kubernetes API server's EndpointSlice endpoints, over HTTPS.

No kube-apiserver runs on these machines, so this follows the documented API behaviour that
podcache's kubernetes discovery depends on:
  - GET /apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices?labelSelector=... lists the
    slices (items without kind/apiVersion, list metadata.resourceVersion), paged with
    limit/continue; an expired continue token is 410.
  - ...&watch=1&resourceVersion=RV streams JSON watch events, one per line, in chunked
    encoding, for changes after RV: ADDED/MODIFIED/DELETED, BOOKMARK (only metadata.
    resourceVersion) when allowWatchBookmarks=true, and the stream ends after timeoutSeconds.
  - A resourceVersion older than the retained history is 410 Gone, either as the HTTP status
    (Status body) or, as watch caches do, as HTTP 200 followed by an ERROR event with a Status.
  - Bearer tokens: a missing or unknown token is 401 with a Status body.
  - TLS with a certificate of the test's CA; `null` endpoints and ports are sent as null.
Not covered: field selectors, other resources, resourceVersionMatch, watch-list
(sendInitialEvents), protobuf encoding, HTTP/2, API priority and fairness (429).
"""
import json
import random
import ssl
import threading
import time
import urllib.parse
from http.server import ThreadingHTTPServer

from quiet_http import QuietHandler

from ports import reserve_port

PREFIX = "/apis/discovery.k8s.io/v1/namespaces/"


def status_body(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def endpoint(ip, ready=True, terminating=False, conditions=True):
    e = {"addresses": [ip], "targetRef": {"kind": "Pod", "name": "pod-" + ip.replace(".", "-").replace(":", "-")}}
    if conditions:
        e["conditions"] = {"ready": ready, "serving": ready or terminating, "terminating": terminating}
    return e


class FakeKubeApi:
    """The server and its state. Tests change slices with put_slice/delete_slice and shape the
    API's behaviour with the attributes below; every method is thread-safe."""

    def __init__(self, cert, key, namespace="shop", service="web", tokens=("token-1",)):
        self.namespace, self.service = namespace, service
        self.cert, self.key = cert, key
        self.tokens = set(tokens)
        self.gone_as = "status"        # how a too-old resourceVersion is answered: "status" or "event"
        self.bookmark_interval = 0.0   # seconds; 0: no bookmarks
        self.max_watch_seconds = None  # close every watch after this long (server restarts)
        self.events_on_watch = True    # False: a bookmark-only stream (changes are not sent)
        self.random_chunks = True      # split events at random bytes, several per chunk
        self.page_size_cap = None      # serve at most this many items per page
        self.default_port = 7071       # the port of put_slice's slices
        self.lock = threading.Condition()
        self.rv = 100
        self.slices = {}               # name -> object
        self.history = []              # (rv, type, object)
        self.oldest_rv = self.rv       # a watch from before this is 410 Gone
        self.requests = []             # (kind, token, query dict) of every request
        self.expire_epoch = 0          # bumped by expire_watches(): open watches get ERROR 410
        self.close_epoch = 0           # bumped by close_watches(): open watches end
        self.server = None
        self.port = None
        self.start()

    # --- the server -------------------------------------------------------------------------
    def start(self, port=None):
        api = self

        class Handler(QuietHandler):
            def do_GET(self):
                api.handle(self)

        # A reserved port (ports.py), not port 0: a restart binds the same port again, and an
        # ephemeral port could be taken by any outgoing connection while the server is down.
        port = port or reserve_port()
        deadline = time.monotonic() + 10
        while True:
            try:
                server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
                break
            except OSError as e:  # the old socket of a restart may take a moment to go
                if time.monotonic() >= deadline:
                    raise AssertionError("fake Kubernetes API: cannot listen on 127.0.0.1:%d: %s" % (port, e))
                time.sleep(0.1)
        server.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self.server = server
        self.port = server.server_address[1]
        self.url = "https://127.0.0.1:%d" % self.port
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        """The API server goes away: the listener closes and every open watch is cut."""
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        self.server = None
        with self.lock:
            self.close_epoch += 1
            self.lock.notify_all()

    def restart(self):
        self.start(self.port)

    # --- state ------------------------------------------------------------------------------
    def _commit(self, type_, obj):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.history.append((self.rv, type_, json.loads(json.dumps(obj))))
        self.lock.notify_all()

    def put_slice(self, name, endpoints, port="default", port_name="peer", address_type="IPv4", service=None):
        """Creates or replaces a slice. endpoints=None and port=None are sent as JSON null."""
        port = self.default_port if port == "default" else port
        with self.lock:
            obj = {
                "metadata": {"name": name, "namespace": self.namespace, "generateName": self.service + "-",
                             "labels": {"kubernetes.io/service-name": service or self.service,
                                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
                "addressType": address_type,
                "endpoints": endpoints,
                "ports": None if port is None else [{"name": port_name, "port": port, "protocol": "TCP"}],
            }
            type_ = "MODIFIED" if name in self.slices else "ADDED"
            self.slices[name] = obj
            self._commit(type_, obj)

    def delete_slice(self, name):
        with self.lock:
            obj = self.slices.pop(name)
            self._commit("DELETED", obj)

    def compact(self):
        """Forgets the history: any watch from an older resourceVersion is 410 Gone."""
        with self.lock:
            self.oldest_rv = self.rv
            self.history = []

    def expire_watches(self):
        """Open watches receive an ERROR event with a 410 Status, as when the watch cache is
        re-initialised; later watches from those resourceVersions are 410 too."""
        with self.lock:
            self.oldest_rv = self.rv
            self.history = []
            self.expire_epoch += 1
            self.lock.notify_all()

    def close_watches(self):
        with self.lock:
            self.close_epoch += 1
            self.lock.notify_all()

    def count(self, kind):
        with self.lock:
            return sum(1 for r in self.requests if r[0] == kind)

    # --- requests ---------------------------------------------------------------------------
    def handle(self, h):
        url = urllib.parse.urlsplit(h.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        token = h.headers.get("Authorization", "")
        token = token[len("Bearer "):] if token.startswith("Bearer ") else None
        watch = query.get("watch") in ("1", "true")
        with self.lock:
            self.requests.append(("watch" if watch else "list", token, query))
            authorized = token in self.tokens
        if not authorized:
            return self.reply(h, 401, status_body(401, "Unauthorized", "Unauthorized"))
        expected = PREFIX + self.namespace + "/endpointslices"
        if url.path != expected:
            return self.reply(h, 404, status_body(404, "NotFound", "the server could not find the requested resource"))
        selector = query.get("labelSelector", "")
        if selector and not selector.startswith("kubernetes.io/service-name="):
            return self.reply(h, 400, status_body(400, "BadRequest", "unsupported selector in this double"))
        service = selector.split("=", 1)[1] if selector else None
        if watch:
            return self.watch(h, query, service)
        return self.list(h, query, service)

    def matches(self, obj, service):
        return service is None or obj["metadata"]["labels"].get("kubernetes.io/service-name") == service

    def list(self, h, query, service):
        with self.lock:
            items = [json.loads(json.dumps(o)) for n, o in sorted(self.slices.items()) if self.matches(o, service)]
            rv = str(self.rv)
        limit = int(query.get("limit", "0") or 0)
        if self.page_size_cap:
            limit = min(limit or self.page_size_cap, self.page_size_cap)
        start = 0
        if "continue" in query:
            token = json.loads(urllib.parse.unquote(query["continue"]))
            if int(token["rv"]) < self.oldest_rv:
                return self.reply(h, 410, status_body(410, "Expired", "The provided continue parameter is too old"))
            start, rv = token["start"], token["rv"]
            with self.lock:  # pages of one list come from its snapshot's version
                items = [json.loads(json.dumps(o)) for n, o in sorted(self.slices.items()) if self.matches(o, service)]
        meta = {"resourceVersion": rv}
        page = items[start:]
        if limit and len(page) > limit:
            page = page[:limit]
            meta["continue"] = json.dumps({"rv": rv, "start": start + limit})
        body = {"kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1", "metadata": meta, "items": page}
        self.reply(h, 200, body)

    def reply(self, h, code, body):
        h.reply(code, json.dumps(body).encode(), [("Content-Type", "application/json")])

    def watch(self, h, query, service):
        try:
            since = int(query.get("resourceVersion") or 0)
        except ValueError:
            return self.reply(h, 400, status_body(400, "BadRequest", "bad resourceVersion"))
        timeout = float(query.get("timeoutSeconds") or 1800)
        if self.max_watch_seconds is not None:
            timeout = min(timeout, self.max_watch_seconds)
        bookmarks = query.get("allowWatchBookmarks") == "true"
        with self.lock:
            too_old = since < self.oldest_rv
        gone = status_body(410, "Expired", "too old resource version: %d (%d)" % (since, self.oldest_rv))
        if too_old and self.gone_as == "status":
            return self.reply(h, 410, gone)
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        writer = ChunkWriter(h.wfile, self.random_chunks)
        try:
            if too_old:
                writer.event({"type": "ERROR", "object": gone})
                return writer.end()
            deadline = time.monotonic() + timeout
            next_bookmark = time.monotonic() + self.bookmark_interval
            sent = since
            with self.lock:
                expire_epoch, close_epoch = self.expire_epoch, self.close_epoch
            while True:
                with self.lock:
                    now = time.monotonic()
                    wait = deadline - now
                    if bookmarks and self.bookmark_interval:
                        wait = min(wait, next_bookmark - now)
                    pending = [e for e in self.history if e[0] > sent]
                    if not pending and wait > 0 and self.expire_epoch == expire_epoch and self.close_epoch == close_epoch:
                        self.lock.wait(min(wait, 0.5))
                        pending = [e for e in self.history if e[0] > sent]
                    expired = self.expire_epoch != expire_epoch
                    closed = self.close_epoch != close_epoch
                    rv_now = self.rv
                if expired:
                    writer.event({"type": "ERROR", "object": gone})
                    return writer.end()
                if closed or time.monotonic() >= deadline:
                    return writer.end()
                for rv, type_, obj in pending:
                    sent = rv
                    if self.events_on_watch and self.matches(obj, service):
                        writer.event({"type": type_, "object": obj})
                if bookmarks and self.bookmark_interval and time.monotonic() >= next_bookmark:
                    next_bookmark = time.monotonic() + self.bookmark_interval
                    sent = max(sent, rv_now)
                    writer.event({"type": "BOOKMARK", "object": {
                        "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
                        "metadata": {"resourceVersion": str(sent)}}})
                writer.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass  # the client went away


class ChunkWriter:
    """Writes watch events as chunked encoding: either one event per chunk, or the bytes of
    several events cut at random places (events split across chunks, several per chunk)."""

    def __init__(self, wfile, random_chunks):
        self.wfile, self.random_chunks = wfile, random_chunks
        self.buffer = b""
        self.rng = random.Random(42)

    def event(self, obj):
        self.buffer += json.dumps(obj, separators=(",", ":")).encode() + b"\n"
        if not self.random_chunks:
            self.flush()

    def flush(self):
        data, self.buffer = self.buffer, b""
        while data:
            n = self.rng.randint(1, max(1, len(data))) if self.random_chunks else len(data)
            self._chunk(data[:n])
            data = data[n:]

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end(self):
        self.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
