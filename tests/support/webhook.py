"""A webhook receiver on 127.0.0.1 that checks every alert's signatures: nigran's own, and the Standard Webhooks
one with the `standardwebhooks` library a receiver would use."""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
from http.client import HTTPMessage

from standardwebhooks import Webhook

from tests.support.fixture_server import FixtureServer, Request

SECRET = "webhook-signing-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that keeps every POST (headers and body) and answers 204."""

    def __init__(self, port: int, key: bytes = SECRET.encode()):
        self.key = key
        self.received: list[tuple[HTTPMessage, bytes]] = []
        self.server = FixtureServer(self._receive, port=port, protocol="HTTP/1.0", methods=("POST",),
                                    name="webhook-receiver")

    def _receive(self, request: Request):
        self.received.append((request.headers, request.body))
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
            expected = hmac.new(self.key, headers["X-Nigran-Timestamp"].encode() + b"." + body,
                                hashlib.sha256).hexdigest()
            assert headers["X-Nigran-Signature"] == f"sha256={expected}"
            assert headers["Content-Type"] == "application/json"
            standard = {k: headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
            assert Webhook(self.key).verify(body, standard) == json.loads(body)  # raises on a bad signature
            bodies.append(json.loads(body))
            assert str(bodies[-1]["alert_id"]) == headers["X-Nigran-Alert-Id"]
        return bodies
