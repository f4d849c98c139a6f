"""The engine behind the endpoints: one writer, group commits, timeouts on the wall clock, metrics.

One writer: every request that changes state takes the engine's lock, applies
its event, and commits before it answers, so an answer is never ahead of
the disk. Timeouts fire from a background thread on the wall clock (UTC),
within a second of their deadline, and survive restarts because deadlines
live in the database.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from queue import SimpleQueue
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from rota.engine import DurableEngine, Event
from rota.engine.decisions import RELEASED, Decision

from .errors import ApiError
from .feed import DecisionFeed
from .outbox import Webhook, WebhookOutbox

TIMEOUT_TICK_SECONDS = 0.25
STREAM_HEARTBEAT_SECONDS = 15.0  # an idle stream sends a comment line this often, so proxies keep it open
log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class RotaService:
    """The engine behind the endpoints: a lock, the clock, group commits and metrics.

    Group commit: a request applies its event in memory under `lock` (one
    decision at a time, so caps and round-robin hold under any load) and gets a
    ticket. One writer thread commits everything applied so far, then wakes
    every request its commit covered. So commits keep their order, many
    requests share one, and an answer is never sent before its decision is
    durable. Requests wait on the event loop, not in a thread each."""

    def __init__(self, engine: DurableEngine, token: str, webhook: Webhook | None = None):
        self.engine = engine
        self.token = token
        self.lock = threading.Lock()
        self._applied = self._durable = 0
        self._commits = threading.Condition()
        self._waiters: list[tuple[int, Wake]] = []
        self.registry = CollectorRegistry()
        self.decisions = Counter("rota_decisions", "Decisions made", ["outcome", "route"], registry=self.registry)
        self.releases = Counter(
            "rota_releases",
            "Contacts released by a reassign option (SPEC 4.1)",
            ["reason", "route"],
            registry=self.registry,
        )
        self.queue_length = Gauge("rota_queue_length", "Contacts waiting in the queue", registry=self.registry)
        self.latency = Histogram(
            "rota_decision_seconds",
            "Time to answer a routing request",
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Durable decisions for the stream and the webhook, published by the writer after each commit.
        self.stream_heartbeat = STREAM_HEARTBEAT_SECONDS
        self.streams_ended = False  # set when a shutdown begins: open streams end, so it need not wait for them
        self.feed = DecisionFeed(engine.decisions_after, engine.last_committed_seq())
        self.outbox = None if webhook is None else WebhookOutbox(webhook, self.feed, engine, self.registry, self._stop)
        # Set when a commit failed: memory is then ahead of the file, so no more changes are taken
        # (a restart reloads the file, where every answered decision is).
        self._failure: ApiError | None = None
        # Every input is kept in the engine file (rota export); the clock goes on from the history's last instant.
        self._last_instant = engine.keep_history(utc_now())

    # ------------------------------------------------------------ changes

    async def apply(self, event_type: str, **fields: Any) -> list[Decision]:
        """Fire due timeouts, apply one event, drain; return the event's own decisions once durable."""
        with self.lock:
            self._refuse_after_failure()
            now = self.clock()
            self.engine.advance(now, inclusive=False)
            own = self.engine.handle(Event(now, event_type, **fields))
            ticket = self._take_ticket()
        await self._until_durable(ticket)
        return own

    async def change(self, action, *arguments) -> Any:
        """Any other change of state (a policy version), made durable before it returns."""
        with self.lock:
            self._refuse_after_failure()
            result = action(*arguments)
            ticket = self._take_ticket()
        await self._until_durable(ticket)
        return result

    def fire_timeouts(self) -> datetime:
        """Fire every timeout due by now; returns that instant once all applied up to it is durable."""
        with self.lock:
            self._refuse_after_failure()
            now = self.clock()
            self.engine.advance(now)
            ticket = self._take_ticket()
        outcome: SimpleQueue = SimpleQueue()
        self._wait_for(ticket, outcome.put)
        error = outcome.get()
        if error is not None:
            raise error
        return now

    def clock(self) -> datetime:
        """The wall clock (UTC), always later than the instant it gave before (under `lock`): a step back of
        the system clock must not reorder the kept history, and no input shares an instant with a tick, so a
        replay fires every timeout at the same place among the inputs as the service did."""
        self._last_instant = max(utc_now(), self._last_instant + timedelta(microseconds=1))
        return self._last_instant

    def _refuse_after_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _take_ticket(self) -> int:
        self._applied += 1
        return self._applied

    async def _until_durable(self, ticket: int) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._wait_for(ticket, lambda error: loop.call_soon_threadsafe(_settle, future, error))
        await future

    def _wait_for(self, ticket: int, wake: Wake) -> None:
        with self._commits:
            if self._durable >= ticket:
                wake(None)
                return
            self._waiters.append((ticket, wake))
            self._commits.notify()

    # ------------------------------------------------------------ threads

    def _write_commits(self) -> None:
        """The one writer: whenever someone waits, commit all that was applied so far."""
        while True:
            with self._commits:
                while not self._waiters and not self._stop.is_set():
                    self._commits.wait()
                if not self._waiters:
                    return
            with self.lock:
                changes, decisions = self.engine.prepare_commit()
                covered = self._applied
                queued = self.engine.queue_length
            error = None
            try:
                self.engine.write(changes)
            except Exception as failure:  # every waiter answers 503 with it
                log.exception("the engine file could not be written; the service takes no more changes")
                error = self._failure = ApiError(
                    503,
                    "store_failed",
                    f"the engine file could not be written ({failure}); nothing more is accepted until a restart",
                )
            with self._commits:
                if error is None:
                    self._durable = covered
                woken = [wake for ticket, wake in self._waiters if ticket <= covered]
                self._waiters = [(ticket, wake) for ticket, wake in self._waiters if ticket > covered]
            for wake in woken:
                wake(error)
            if error is None:
                self.feed.publish(changes.decisions)
            for decision in decisions:
                self.decisions.labels(decision.outcome, decision.route or "").inc()
                if decision.outcome == RELEASED:
                    self.releases.labels(decision.reason, decision.route).inc()
            self.queue_length.set(queued)

    def start(self) -> None:
        def tick() -> None:
            while not self._stop.wait(TIMEOUT_TICK_SECONDS) and self._failure is None:
                try:
                    self.fire_timeouts()
                except ApiError:
                    return

        self._threads = [
            threading.Thread(target=self._write_commits, name="rota-writer", daemon=True),
            threading.Thread(target=tick, name="rota-timeouts", daemon=True),
        ]
        if self.outbox is not None:
            self._threads.append(threading.Thread(target=self.outbox.run, name="rota-webhook", daemon=True))
        for thread in self._threads:
            thread.start()

    def end_streams(self) -> None:
        self.streams_ended = True
        self.feed.wake_listeners()

    def stop(self) -> None:
        self._stop.set()
        with self._commits:
            self._commits.notify()
        self.feed.wake_all()
        for thread in reversed(self._threads):
            thread.join()
        with self.lock:
            if self._failure is None:
                self.engine.close()
            else:  # memory is ahead of the file: keep the file as last committed
                self.engine.abandon()


Wake = Callable[[BaseException | None], Any]


def _settle(future: asyncio.Future, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
