"""The service's application: the endpoints of SPEC 5.2, one module per area, behind the bearer token."""

from __future__ import annotations

from contextlib import asynccontextmanager

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
from .fast_path import FastContactPath
from .inputs import JsonBodyRoute
from .models import Health
from .policy_api import add_policy_routes
from .status_api import add_status_routes
from .users_api import add_user_routes


def create_app(service: RotaService, fast_path: bool = True) -> FastAPI:
    """The application; `fast_path=False` leaves every request to FastAPI (the fast path's tests compare)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.start()
        yield
        service.stop()

    app = FastAPI(
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
    if fast_path:  # added last: outermost of the application's own middleware
        app.add_middleware(FastContactPath, service=service)
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
