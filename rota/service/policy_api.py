"""Policy endpoints: the active version (its ETag), the versions kept, a new one checked first, a rollback.

A new version is checked against the live roster as `rota check --snapshot` checks
against a snapshot (unknown teams and users), and its routes as `rota verify` does
(unreachable ones): those are warnings in the 200. A policy with no route is
refused unless asked for. `If-Match` makes a change conditional on the version
read, so two operators' concurrent changes give one 409, not a lost update.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Header, Request, Response
from starlette.concurrency import run_in_threadpool

from rota import diagnostics as codes
from rota.diagnostics import Diagnostic
from rota.dsl import PolicySource, analyze
from rota.engine import CompiledPolicy, compile_policy, format_instant
from rota.policy_checks import PolicyReview
from rota.testing.strategies import vocabulary
from rota.wording import plural

from .core import RotaService
from .errors import ApiError, error_responses, refused
from .inputs import AllowEmpty, DryRun, VersionId
from .models import PolicyBody, PolicyChange, PolicyVersion

POLICY_FILE = "policy"  # the `file` of the diagnostics about a policy sent as text
IfMatch = Annotated[str | None, Header(description='the ETag of GET /v1/policy (`"VERSION"`), or `*`')]
POLICY_TEXT = {
    "required": True,
    "content": {
        "text/plain": {"schema": {"type": "string", "minLength": 1}, "example": "route all {\n  assign to space\n}\n"}
    },
}


def add_policy_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.put(
        "/v1/policy",
        dependencies=authorized,
        response_model=PolicyChange,
        responses=error_responses(409, 503),
        openapi_extra={"requestBody": POLICY_TEXT},
    )
    async def put_policy(
        request: Request,
        response: Response,
        if_match: IfMatch = None,
        dry_run: DryRun = False,
        allow_empty: AllowEmpty = False,
    ):
        """Check a policy (text/plain) against the live roster and, unless `dry_run`, make it the active version."""
        text = (await request.body()).decode("utf-8", errors="replace")
        if not text:
            raise refused(codes.NO_ROUTE, "body", "the body is empty: send the policy's text", error="policy_empty")
        compiled, warnings = await run_in_threadpool(checked_policy, service, text, allow_empty)
        if dry_run:
            return change_view(compiled, warnings, active=False)
        await service.change(activate_if_matching, service, text, if_match)
        response.headers["ETag"] = entity_tag(compiled.version)
        return change_view(compiled, warnings, active=True)

    @app.get("/v1/policy", dependencies=authorized, response_model=PolicyBody, responses=error_responses())
    def get_policy(response: Response):
        """The active policy's text and version; the version is the ETag to send as `If-Match`."""
        with service.lock:
            source, version = service.engine.policy_source, service.engine.policy.version
        response.headers["ETag"] = entity_tag(version)
        answer: dict[str, Any] = {"version": version, "text": source.joined()}
        if not source.is_one_file:  # a folder: its files apart, each with its text
            answer["files"] = [{"file": file, "text": text} for file, text in source.files]
        return answer

    @app.get("/v1/policies", dependencies=authorized, response_model=list[PolicyVersion], responses=error_responses())
    def list_policies():
        active = service.engine.policy.version
        versions = service.engine.policy_versions()
        return [
            {"version": v["version"], "created_at": format_instant(v["created_at"]), "active": v["version"] == active}
            for v in versions
        ]

    @app.post(
        "/v1/policies/{version:path}/activate",
        dependencies=authorized,
        response_model=PolicyChange,
        responses=error_responses(404, 409, 503),
    )
    async def activate(version: VersionId, response: Response, if_match: IfMatch = None):
        """Roll back (or forward) to a version kept in the database."""
        kept = {v["version"]: v["text"] for v in service.engine.policy_versions()}
        if version not in kept:
            raise ApiError(404, "unknown_policy", f"no policy version `{version}`")
        source = PolicySource.decode(kept[version])
        compiled, warnings = await run_in_threadpool(checked_policy, service, source, True)
        await service.change(activate_if_matching, service, source, if_match)
        response.headers["ETag"] = entity_tag(compiled.version)
        return change_view(compiled, warnings, active=True)


def checked_policy(
    service: RotaService, text_or_source: str | PolicySource, allow_empty: bool
) -> tuple[CompiledPolicy, list[Diagnostic]]:
    """The compiled policy and its warnings against the live roster; ApiError (422) when it is refused."""
    with service.lock:
        schema = service.engine.roster_schema()
    policy, diagnostics = analyze(text_or_source, POLICY_FILE, schema)
    if policy is None:
        errors = [d for d in diagnostics if d.is_error]
        raise ApiError(
            422,
            "policy_invalid",
            f"the policy has {plural(len(errors), 'error')}",
            diagnostics=[diagnostic.to_json() for diagnostic in errors],
        )
    if not policy.routes and not allow_empty:
        raise refused(
            codes.NO_ROUTE,
            "body",
            "the policy has no route: every contact would be `no_route`; send `allow_empty=true` if that is meant",
            error="policy_empty",
        )
    compiled = compile_policy(policy)
    review = PolicyReview(compiled, vocabulary(compiled), None, POLICY_FILE)
    return compiled, [*diagnostics, *review.shadowed_routes()]


def activate_if_matching(service: RotaService, policy: str | PolicySource, if_match: str | None) -> CompiledPolicy:
    """Under the engine's lock: the version read is still the active one, then the new one takes effect."""
    active = service.engine.policy.version
    if if_match is not None and not matches(if_match, active):
        raise refused(
            codes.VERSION_MISMATCH,
            "header.if-match",
            f"the active policy is now version `{active}`, not the one `If-Match` names; read it again and retry",
            status=409,
            error="policy_changed",
        )
    return service.engine.use_policy(policy, service.clock(), POLICY_FILE)


def matches(if_match: str, version: str) -> bool:
    """`If-Match` (RFC 9110): `*`, or a list of entity tags, weak (`W/`) or strong, one of them the version."""
    tags = [tag.strip() for tag in if_match.split(",")]
    return any(tag == "*" or tag.removeprefix("W/").strip('"') == version for tag in tags)


def entity_tag(version: str) -> str:
    return f'"{version}"'


def change_view(compiled: CompiledPolicy, warnings: list[Diagnostic], active: bool) -> dict:
    return {
        "version": compiled.version,
        "routes": [route.name for route in compiled.routes],
        "active": active,
        "warnings": [warning.to_json() for warning in warnings],
    }
