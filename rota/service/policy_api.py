"""Policy endpoints: the active version, the versions kept, a new one, a rollback."""

from __future__ import annotations

from fastapi import FastAPI, Request

from rota.dsl import PolicySource, analyze
from rota.engine import format_instant
from rota.wording import plural

from .core import RotaService, utc_now
from .errors import ApiError


def add_policy_routes(app: FastAPI, service: RotaService, authorized) -> None:
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
        versions = service.engine.policy_versions()
        return [
            {"version": v["version"], "created_at": format_instant(v["created_at"]), "active": v["version"] == active}
            for v in versions
        ]

    @app.post("/v1/policies/{version}/activate", dependencies=authorized)
    async def activate(version: str):
        """Roll back (or forward) to a version kept in the database."""
        kept = {v["version"]: v["text"] for v in service.engine.policy_versions()}
        if version not in kept:
            raise ApiError(404, "unknown_policy", f"no policy version `{version}`")
        compiled = await service.change(service.engine.use_policy, PolicySource.decode(kept[version]), utc_now())
        return {"version": compiled.version, "routes": [route.name for route in compiled.routes]}
