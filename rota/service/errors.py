"""What the service answers when it refuses a request: one error body, with a code and diagnostics."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rota import diagnostics as codes
from rota.diagnostics import Code, Diagnostic

MAX_BODY_BYTES = 256 * 1024


class ApiError(HTTPException):
    def __init__(self, status: int, code: str, message: str, **details: Any):
        super().__init__(status, message)
        self.code, self.details = code, details


def refused(code: Code, where: str, message: str, status: int = 422, error: str = "invalid_request") -> ApiError:
    """A request refused for one of its parts (`body`, `body.status`, `query.since`): the answer's
    `diagnostics` name the part as their `file`, with the code (docs/diagnostics.md)."""
    diagnostic = Diagnostic(where, 0, 0, message, code=code)
    return ApiError(status, error, message, diagnostics=[diagnostic.to_json()])


def install_error_handlers(app: FastAPI) -> None:
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


def install_body_limit(app: FastAPI) -> None:
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
