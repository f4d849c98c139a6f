"""The service's application: the endpoints of SPEC 5.2, one module per area, behind the bearer token."""

from __future__ import annotations

from contextlib import asynccontextmanager
from functools import partial

from fastapi import Depends, FastAPI
from fastapi.responses import PlainTextResponse
from prometheus_client import generate_latest

from .auth import bearer
from .contacts_api import add_contact_routes
from .core import RotaService
from .decisions_api import add_decision_routes
from .docs import add_docs_routes
from .errors import error_responses, install_body_limit, install_error_handlers
from .explain_api import add_explain_routes
from .export_api import add_export_routes
from .fast_path import FastContactPath
from .inputs import JsonBodyRoute
from .models import Health
from .policy_api import add_policy_routes
from .status_api import add_status_routes
from .users_api import add_user_routes


class ServiceApp(FastAPI):
    """FastAPI's application with the fast path (fast_path.py) in front of all its layers: FastAPI's own
    telemetry, error and body-limit middleware cost as much as the rest of a plain route request."""

    front: FastContactPath | None = None

    async def __call__(self, scope, receive, send) -> None:
        if self.front is None:
            return await super().__call__(scope, receive, send)
        await self.front(scope, receive, send)


def create_app(service: RotaService, fast_path: bool = True) -> FastAPI:
    """The application; `fast_path=False` leaves every request to FastAPI (the fast path's tests compare)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.start()
        yield
        service.stop()

    app = ServiceApp(
        title="rota",
        description="Routing policies as a service (SPEC 5.2).",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # offline instead: add_docs_routes
        redoc_url=None,
    )
    app.router.route_class = JsonBodyRoute
    install_error_handlers(app)
    install_body_limit(app)
    if fast_path:
        app.front = FastContactPath(partial(FastAPI.__call__, app), service)
    add_docs_routes(app)
    authorized = [Depends(bearer(service.token))]

    @app.get("/healthz", response_model=Health)
    def healthz():
        return {"status": "ok"}

    add_policy_routes(app, service, authorized)
    add_user_routes(app, service, authorized)
    add_contact_routes(app, service, authorized)
    add_decision_routes(app, service, authorized)
    add_explain_routes(app, service, authorized)
    add_status_routes(app, service, authorized)
    add_export_routes(app, service, authorized)

    @app.get(
        "/metrics",
        dependencies=authorized,
        response_class=PlainTextResponse,
        responses={
            **error_responses(by_reference=True),
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        },
    )
    def metrics():
        return PlainTextResponse(generate_latest(service.registry).decode(), media_type="text/plain; version=0.0.4")

    return app
