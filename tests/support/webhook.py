"""A webhook receiver on 127.0.0.1 that checks every alert's signature."""
from __future__ import annotations

import hashlib
import hmac
import json
import socket

from tests.support.fixture_server import FixtureServer, Request

SECRET = "webhook-signing-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that keeps every POST (headers and body) and answers 204."""

    def __init__(self, port: int):
        self.received: list[tuple[dict, bytes]] = []
        self.server = FixtureServer(self._receive, port=port, protocol="HTTP/1.0", methods=("POST",),
                                    name="webhook-receiver")

    def _receive(self, request: Request):
        self.received.append((dict(request.headers), request.body))
        return 204, {}, b""

    def __enter__(self) -> WebhookReceiver:
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop()

    def alerts(self) -> list[dict]:
        """The bodies received, each checked against its signature."""
        bodies = []
        for headers, body in self.received:
            expected = hmac.new(SECRET.encode(), headers["X-Nigran-Timestamp"].encode() + b"." + body,
                                hashlib.sha256).hexdigest()
            assert headers["X-Nigran-Signature"] == f"sha256={expected}"
            assert headers["Content-Type"] == "application/json"
            bodies.append(json.loads(body))
            assert str(bodies[-1]["alert_id"]) == headers["X-Nigran-Alert-Id"]
        return bodies
