"""What the test's own HTTP servers share: an HTTP/1.1 handler that logs nothing and answers with
a body and its Content-Length in one call."""
from http.server import BaseHTTPRequestHandler


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        """Answers `status` with the bytes `body` and the (name, value) pairs of `headers`."""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
