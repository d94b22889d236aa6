"""A local HTTP server standing in for Slack, WeCom, DingTalk and webhook receivers.

It is the transport boundary stub: our code really connects, sends and reads. Each request is
recorded (method, path, query, headers, body); responses are programmed per path and consumed in
order, the last one repeating.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes | str | dict = b"ok"
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (timeouts)

    def encoded(self) -> bytes:
        if isinstance(self.body, dict):
            return json.dumps(self.body).encode()
        return self.body.encode() if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict  # name -> first value, decoded
    headers: dict  # lower-cased names
    body: bytes

    def json(self):
        return json.loads(self.body)


class StubServer:
    def __init__(self):
        self.requests: list[Recorded] = []
        self._replies: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def respond(self, path: str, *replies: Reply) -> None:
        """Answer requests to `path` (without the query) with these replies in turn."""
        with self._lock:
            self._replies[path] = list(replies)

    def requests_to(self, path: str) -> list[Recorded]:
        return [request for request in self.requests if request.path == path]

    def _next_reply(self, path: str) -> Reply:
        with self._lock:
            queue = self._replies.get(path)
            if not queue:
                return Reply(404, b"no reply programmed for this path")
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _handler_class(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                query = {name: values[0] for name, values in parse_qs(parts.query).items()}
                headers = {name.lower(): value for name, value in self.headers.items()}
                with stub._lock:
                    stub.requests.append(Recorded(self.command, parts.path, query, headers, body))
                reply = stub._next_reply(parts.path)
                time.sleep(reply.delay)
                payload = reply.encoded()
                self.send_response(reply.status)
                for name, value in {"Content-Length": str(len(payload)), **reply.headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

            def log_message(self, *args):  # keep test output clean
                pass

        return Handler

    def start(self) -> "StubServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def http_server():
    server = StubServer().start()
    yield server
    server.stop()


@pytest.fixture
def private_urls_allowed(settings):
    """The stub listens on 127.0.0.1, which the SSRF guard refuses unless private URLs are allowed."""
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
