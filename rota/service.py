"""`rota serve`: the engine over HTTP (SPEC 5.2), on FastAPI.

One writer: every request that changes state takes the engine's lock, applies
its event, and commits before it answers, so an answer is never ahead of
the disk. Timeouts fire from a background thread on the wall clock (UTC),
within a second of their deadline, and survive restarts because deadlines
live in the database.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from queue import SimpleQueue
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.exceptions import HTTPException

from rota import diagnostics as codes
from rota.diagnostics import Code, Diagnostic
from rota.dsl import PolicySource, analyze
from rota.engine import DurableEngine, Event, format_instant, parse_instant
from rota.engine.decisions import Decision
from rota.storage import contact_attributes, user_attributes
from rota.vocabulary import EventType, Outcome, Status, UserField

from .wording import plural

MAX_BODY_BYTES = 256 * 1024
STATUSES = Status.texts()
# The fields of PUT /v1/users/{id} a User has itself; the rest of the body is refused, `attrs` holds the others.
USER_BODY_FIELDS = (UserField.STATUS.value, UserField.NAME.value)
TIMEOUT_TICK_SECONDS = 0.25


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class ApiError(HTTPException):
    def __init__(self, status: int, code: str, message: str, **details: Any):
        super().__init__(status, message)
        self.code, self.details = code, details


def refused(code: Code, where: str, message: str, status: int = 422, error: str = "invalid_request") -> ApiError:
    """A request refused for one of its parts (`body`, `body.status`, `query.since`): the answer's
    `diagnostics` name the part as their `file`, with the code (docs/diagnostics.md)."""
    diagnostic = Diagnostic(where, 0, 0, message, code=code)
    return ApiError(status, error, message, diagnostics=[diagnostic.to_json()])


class RotaService:
    """The engine behind the endpoints: a lock, the clock, group commits and metrics.

    Group commit: a request applies its event in memory under `lock` (one
    decision at a time, so caps and round-robin hold under any load) and gets a
    ticket. One writer thread commits everything applied so far, then wakes
    every request its commit covered. So commits keep their order, many
    requests share one, and an answer is never sent before its decision is
    durable. Requests wait on the event loop, not in a thread each."""

    def __init__(self, engine: DurableEngine, token: str):
        self.engine = engine
        self.token = token
        self.lock = threading.Lock()
        self._applied = self._durable = 0
        self._commits = threading.Condition()
        self._waiters: list[tuple[int, Wake]] = []
        self.registry = CollectorRegistry()
        self.decisions = Counter("rota_decisions", "Decisions made", ["outcome", "route"], registry=self.registry)
        self.queue_length = Gauge("rota_queue_length", "Contacts waiting in the queue", registry=self.registry)
        self.latency = Histogram(
            "rota_decision_seconds",
            "Time to answer a routing request",
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Set when a commit failed: memory is then ahead of the file, so no more changes are taken
        # (a restart reloads the file, where every answered decision is).
        self._failure: ApiError | None = None

    # ------------------------------------------------------------ changes

    async def apply(self, event_type: str, **fields: Any) -> list[Decision]:
        """Fire due timeouts, apply one event, drain; return the event's own decisions once durable."""
        with self.lock:
            self._refuse_after_failure()
            now = utc_now()
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

    def fire_timeouts(self) -> None:
        with self.lock:
            self._refuse_after_failure()
            self.engine.advance(utc_now())
            ticket = self._take_ticket()
        outcome: SimpleQueue = SimpleQueue()
        self._wait_for(ticket, outcome.put)
        error = outcome.get()
        if error is not None:
            raise error

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
                queued = len(self.engine.engine.queue)
            error = None
            try:
                self.engine.store.commit(changes)
            except Exception as failure:  # every waiter answers 503 with it
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
            for decision in decisions:
                self.decisions.labels(decision.outcome, decision.route or "").inc()
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
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._commits:
            self._commits.notify()
        for thread in reversed(self._threads):
            thread.join()
        with self.lock:
            if self._failure is None:
                self.engine.close()
            else:  # memory is ahead of the file: keep the file as last committed
                self.engine.store.close()


Wake = Callable[[BaseException | None], Any]


def _settle(future: asyncio.Future, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def create_app(service: RotaService) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.start()
        yield
        service.stop()

    app = FastAPI(title="rota", description="Routing policies as a service (SPEC 5.2).", version="1", lifespan=lifespan)
    _install_error_handlers(app)
    _install_body_limit(app)
    authorized = [Depends(_bearer(service.token))]

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    _policy_routes(app, service, authorized)
    _user_routes(app, service, authorized)
    _contact_routes(app, service, authorized)

    @app.get("/v1/queue", dependencies=authorized)
    def queue():
        with service.lock:
            return [_entry(entry) for entry in service.engine.engine.queue.in_order()]

    @app.get("/v1/decisions", dependencies=authorized)
    def decisions(
        contact: str | None = None,
        user: str | None = None,
        route: str | None = None,
        outcome: str | None = None,
        since: str | None = None,
        limit: int = 100,
    ):
        moment = _time(since, "since") if since else None
        rows = service.engine.store.decisions(
            contact=contact, user=user, route=route, outcome=outcome, since=moment, limit=max(1, min(limit, 10_000))
        )
        return [{**row, "at": format_instant(row["at"]), "deadline": format_instant(row["deadline"])} for row in rows]

    @app.get("/metrics", dependencies=authorized)
    def metrics():
        return PlainTextResponse(generate_latest(service.registry).decode(), media_type="text/plain; version=0.0.4")

    return app


# ---------------------------------------------------------------- endpoints


def _policy_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.put("/v1/policy", dependencies=authorized)
    async def put_policy(request: Request):
        text = (await request.body()).decode("utf-8", errors="replace")
        policy, diagnostics = analyze(text, "policy")
        errors = [d for d in diagnostics if d.is_error]
        if policy is None:
            raise ApiError(
                422,
                "policy_invalid",
                f"the policy has {plural(len(errors), 'error')}",
                diagnostics=[diagnostic.to_json() for diagnostic in errors],
            )
        compiled = await service.change(service.engine.use_policy, text, utc_now())
        return {"version": compiled.version, "routes": [route.name for route in compiled.routes]}

    @app.get("/v1/policy", dependencies=authorized)
    def get_policy():
        source = service.engine.policy_source
        answer = {"version": service.engine.policy.version, "text": source.joined()}
        if not source.is_one_file:  # a folder: its files apart, each with its text
            answer["files"] = [{"file": file, "text": text} for file, text in source.files]
        return answer

    @app.get("/v1/policies", dependencies=authorized)
    def list_policies():
        active = service.engine.policy.version
        versions = service.engine.store.policies()
        return [
            {"version": v["version"], "created_at": format_instant(v["created_at"]), "active": v["version"] == active}
            for v in versions
        ]

    @app.post("/v1/policies/{version}/activate", dependencies=authorized)
    async def activate(version: str):
        """Roll back (or forward) to a version kept in the database."""
        kept = {v["version"]: v["text"] for v in service.engine.store.policies()}
        if version not in kept:
            raise ApiError(404, "unknown_policy", f"no policy version `{version}`")
        compiled = await service.change(service.engine.use_policy, PolicySource.decode(kept[version]), utc_now())
        return {"version": compiled.version, "routes": [route.name for route in compiled.routes]}


def _user_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.put("/v1/users/{user_id}", dependencies=authorized)
    async def put_user(user_id: str, request: Request):
        body = await _json_object(request)
        attrs = body.get("attrs", {})
        if not isinstance(attrs, dict):
            raise refused(codes.ATTRS_NOT_OBJECT, "body.attrs", "`attrs` must be an object")
        status, name = UserField.STATUS.value, UserField.NAME.value
        if status in body and body[status] not in STATUSES:
            raise refused(codes.UNKNOWN_STATUS, f"body.{status}", f"`{status}` must be one of {', '.join(STATUSES)}")
        if name in body and not isinstance(body[name], (str, type(None))):
            raise refused(codes.NAME_NOT_TEXT, f"body.{name}", f"`{name}` must be a string")
        changes = {**attrs, **{key: body[key] for key in USER_BODY_FIELDS if key in body}}
        try:  # the same value rules as a snapshot and a `user` event (rota.storage.kinds)
            changes = user_attributes(changes)
        except ValueError as error:
            raise refused(codes.BAD_ATTRIBUTE, "body.attrs", str(error)) from None
        await service.apply(EventType.USER.value, user=user_id, attrs=changes)
        return _user(service, user_id)

    @app.delete("/v1/users/{user_id}", dependencies=authorized, status_code=204)
    async def delete_user(user_id: str):
        _known_user(service, user_id)
        await service.apply(EventType.DELETE.value, user=user_id)
        return Response(status_code=204)

    @app.put("/v1/teams/{team}/members/{user_id}", dependencies=authorized, status_code=204)
    async def join(team: str, user_id: str):
        _known_user(service, user_id)
        await service.apply(EventType.JOIN.value, user=user_id, team=team)
        return Response(status_code=204)

    @app.delete("/v1/teams/{team}/members/{user_id}", dependencies=authorized, status_code=204)
    async def leave(team: str, user_id: str):
        _known_user(service, user_id)
        await service.apply(EventType.LEAVE.value, user=user_id, team=team)
        return Response(status_code=204)


def _contact_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.post("/v1/contacts/{contact_id}/route", dependencies=authorized)
    async def route(contact_id: str, request: Request):
        body = await _json_object(request) if await request.body() else {}
        attrs = body.get("attrs", {})
        if not isinstance(attrs, dict):
            raise refused(codes.ATTRS_NOT_OBJECT, "body.attrs", "`attrs` must be an object")
        try:  # the same value rules as a contacts file and a `route` event (rota.storage.kinds)
            attrs = contact_attributes(attrs)
        except ValueError as error:
            raise refused(codes.BAD_ATTRIBUTE, "body.attrs", str(error)) from None
        started = time.perf_counter()
        own = await service.apply(EventType.ROUTE.value, contact=contact_id, attrs=attrs)
        service.latency.observe(time.perf_counter() - started)
        if own:  # a plain JSONResponse: the row is JSON already, FastAPI need not re-encode it
            return JSONResponse(own[0].row())
        with service.lock:  # already queued: it keeps its place, and no row is written
            entry = service.engine.engine.queue.entries.get(contact_id)
            return {
                "at": format_instant(utc_now()),
                "contact": contact_id,
                "route": entry.route if entry else None,
                "outcome": Outcome.QUEUED.value,
                "user": None,
                "reason": None,
                "deadline": format_instant(entry.deadline) if entry else None,
            }

    @app.post("/v1/contacts/{contact_id}/close", dependencies=authorized, status_code=204)
    async def close(contact_id: str):
        _known_contact(service, contact_id)
        await service.apply(EventType.CLOSE.value, contact=contact_id)
        return Response(status_code=204)

    @app.get("/v1/contacts/{contact_id}", dependencies=authorized)
    def contact(contact_id: str):
        with service.lock:
            state = _known_contact(service, contact_id)
            entry = service.engine.engine.queue.entries.get(contact_id)
            return {
                "id": contact_id,
                "assignee": state.contact.assignee,
                "closed": state.closed,
                "queued": _entry(entry) if entry else None,
                "attrs": state.contact.attributes,
            }


# ------------------------------------------------------------------ helpers


def _entry(entry) -> dict[str, Any]:
    return {
        "contact": entry.contact,
        "route": entry.route,
        "priority": entry.priority,
        "enqueued_at": format_instant(entry.enqueued_at),
        "deadline": format_instant(entry.deadline),
    }


def _user(service: RotaService, user_id: str) -> dict[str, Any]:
    with service.lock:
        user = _known_user(service, user_id)
        return {
            "id": user.id,
            "name": user.name,
            "status": user.status,
            "deleted": user.deleted,
            "open": user.open,
            "teams": list(user.teams),
            "last_assigned_at": format_instant(user.last_assigned_at),
            "attrs": user.attributes,
        }


def _known_user(service: RotaService, user_id: str):
    user = service.engine.engine.roster.users.get(user_id)
    if user is None:
        raise ApiError(404, "unknown_user", f"no user `{user_id}`; create it with PUT /v1/users/{user_id}")
    return user


def _known_contact(service: RotaService, contact_id: str):
    state = service.engine.engine.contacts.get(contact_id)
    if state is None:
        raise ApiError(404, "unknown_contact", f"no contact `{contact_id}`; route it first")
    return state


def _time(text: str, name: str) -> datetime:
    try:
        return parse_instant(text)
    except ValueError:
        raise refused(codes.PARAMETER_NOT_TIME, f"query.{name}", f"`{name}` must be an ISO 8601 time") from None


async def _json_object(request: Request) -> dict[str, Any]:
    import json

    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as error:
        raise refused(
            codes.BODY_NOT_JSON, "body", f"the body is not JSON: {error}", status=400, error="malformed_json"
        ) from None
    if not isinstance(body, dict):
        raise refused(codes.BODY_NOT_OBJECT, "body", "the body must be a JSON object")
    return body


def _bearer(token: str):
    expected = token.encode()

    async def check(request: Request) -> None:  # async: FastAPI runs a plain function in a thread
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise ApiError(401, "unauthorized", "send `Authorization: Bearer <token>`")
        if not hmac.compare_digest(given.strip().encode(), expected):
            raise ApiError(403, "forbidden", "the token is not valid")

    return check


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        code = getattr(error, "code", None) or {404: "not_found", 405: "method_not_allowed"}.get(
            error.status_code, "error"
        )
        body = {"error": {"code": code, "message": str(error.detail), **getattr(error, "details", {})}}
        headers = {"WWW-Authenticate": "Bearer"} if error.status_code == 401 else None
        return JSONResponse(body, status_code=error.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        problems = [
            {"where": ".".join(str(part) for part in item["loc"]), "message": item["msg"]} for item in error.errors()
        ]
        diagnostics = [
            Diagnostic(problem["where"], 0, 0, problem["message"], code=codes.INVALID_PARAMETER).to_json()
            for problem in problems
        ]
        body = {"code": "invalid_request", "message": "the request is not valid", "problems": problems}
        return JSONResponse({"error": {**body, "diagnostics": diagnostics}}, status_code=422)


def _install_body_limit(app: FastAPI) -> None:
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)


class BodyLimit:
    """413 for a body over `limit` bytes, declared or streamed (plain ASGI: no per-request task)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(receive, send)
        received = 0

        async def counted_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise ApiError(413, "too_large", self.message)
            return message

        await self.app(scope, counted_receive, send)

    @property
    def message(self) -> str:
        return f"bodies are limited to {self.limit // 1024} KiB"

    async def _refuse(self, receive, send) -> None:
        response = JSONResponse({"error": {"code": "too_large", "message": self.message}}, status_code=413)
        await response({"type": "http"}, receive, send)
