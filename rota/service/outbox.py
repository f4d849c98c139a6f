"""The webhook: every committed decision posted to the platform, at least once, in sequence order.

The outbox is the decision log itself: a decision row, with its sequence
number, is written in the same transaction as the rest of its commit, and the
engine file keeps, per destination, the last sequence number delivered. One
thread posts the decisions after it, one post at a time, in order, each post
a JSON array of the decisions committed since the last (up to `BATCH`, one
when traffic is light), and moves the mark on; a crash between a post and
the saved mark posts again what followed the mark, never skips it. So a
receiver sees every decision at least once, in sequence order, and drops
repeats by each decision's `seq` (the `Idempotency-Key` header names the
first and last of a post).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import duckdb
from prometheus_client import CollectorRegistry, Counter, Gauge

from rota.engine import DurableEngine

from .feed import DecisionFeed, row_json

SIGNATURE_HEADER = "X-Rota-Signature"
SEQUENCE_HEADER = "Idempotency-Key"
BATCH = 100  # decisions in one post at most: under load, one post per decision would cost more than routing
IDLE_SECONDS = 1.0  # with nothing to post, the mark is saved and the thread waits this long for more
GATHER_SECONDS = 0.02  # waited before each post, to gather what is committed meanwhile into it (<= 5,000/s)
SAVE_EVERY_SECONDS = 0.5  # at most this much is posted again after a crash


@dataclass(frozen=True)
class Webhook:
    """Where decisions go and how: the URL, the signing secret (None: unsigned), the wait for one answer,
    and the retry backoff (doubling from `first_retry` up to `longest_retry` seconds)."""

    url: str
    secret: bytes | None = None
    timeout: float = 5.0
    first_retry: float = 0.1
    longest_retry: float = 30.0


def signature(secret: bytes, body: bytes) -> str:
    """The `X-Rota-Signature` value: HMAC-SHA256 of the exact body, in hex."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookOutbox:
    """The delivery thread's work: separate from the writer, so a slow receiver never holds up routing."""

    def __init__(
        self,
        webhook: Webhook,
        feed: DecisionFeed,
        engine: DurableEngine,
        registry: CollectorRegistry,
        stop: threading.Event,
    ) -> None:
        self.webhook, self.feed, self.engine, self._stop = webhook, feed, engine, stop
        parts = urlsplit(webhook.url)
        self._connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._host, self._port = parts.hostname or "", parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._connection: http.client.HTTPConnection | None = None
        known = engine.delivered_through(webhook.url)
        # A destination seen for the first time gets what is decided from now on (the log has the past).
        self.delivered = feed.last_seq if known is None else known
        self._saved = known
        self._save()
        self.failures = Counter("rota_webhook_failures", "Webhook posts that failed or timed out", registry=registry)
        self.posted = Counter("rota_webhook_delivered", "Decisions the webhook delivered", registry=registry)
        backlog = Gauge("rota_webhook_backlog", "Committed decisions not yet delivered", registry=registry)
        backlog.set_function(lambda: self.feed.last_seq - self.delivered)

    def run(self) -> None:
        saved_at = time.monotonic()
        while not self._stop.wait(GATHER_SECONDS):
            rows = self.feed.after(self.delivered, BATCH)
            if not rows:
                self._save()
                self.feed.wait(self.delivered, IDLE_SECONDS)
                continue
            if not self._deliver(rows):
                break
            self.delivered = rows[-1][0]
            if time.monotonic() - saved_at >= SAVE_EVERY_SECONDS:
                self._save()
                saved_at = time.monotonic()
        self._save()
        self._disconnect()

    def _deliver(self, rows: list[tuple]) -> bool:
        """Post decisions until the receiver takes them (2xx); False when the service stops first."""
        body = json.dumps([row_json(row) for row in rows], separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", SEQUENCE_HEADER: f"{rows[0][0]}-{rows[-1][0]}"}
        if self.webhook.secret is not None:
            headers[SIGNATURE_HEADER] = signature(self.webhook.secret, body)
        wait = self.webhook.first_retry
        while not self._stop.is_set():
            if self._posted(body, headers):
                self.posted.inc(len(rows))
                return True
            self.failures.inc()
            self._disconnect()
            if self._stop.wait(wait):
                break
            wait = min(wait * 2, self.webhook.longest_retry)
        return False

    def _posted(self, body: bytes, headers: dict[str, str]) -> bool:
        try:
            if self._connection is None:
                self._connection = self._connection_class(self._host, self._port, timeout=self.webhook.timeout)
            self._connection.request("POST", self._path, body, headers)
            response = self._connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):  # refused, reset, timed out, a garbled answer
            return False
        if response.will_close:
            self._disconnect()
        return 200 <= response.status < 300

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _save(self) -> None:
        if self._saved == self.delivered:
            return
        try:
            self.engine.save_delivered_through(self.webhook.url, self.delivered)
        except duckdb.Error:  # kept for the next save: until then a restart posts a little more again
            return
        self._saved = self.delivered
