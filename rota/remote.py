"""Reading a running `rota serve` over HTTP, for `rota log --url` and `rota status --url`.

The standard library's client: the default install has no other. Every failure
is a `ServiceError` of one line that names the service and what to do.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .tokens import read_token

# The token with --url when no --token-file is given.
TOKEN_VARIABLE = "ROTA_TOKEN"
ANSWER_WITHIN_SECONDS = 30


class ServiceError(Exception):
    """The service could not be asked, or refused: one line for the user."""


def service_token(token_file: str | None) -> str:
    """The bearer token: the file's (whitespace stripped), else $ROTA_TOKEN's."""
    if token_file:
        return read_token(Path(token_file))
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise ServiceError(
            f"--url needs the service's token: pass --token-file FILE (without its own --token-file, "
            f"rota serve writes it beside its engine file, as ENGINE_FILE.token) or set {TOKEN_VARIABLE}"
        )
    return token


def service_url(text: str) -> str:
    """The service's base URL, checked: http or https, with a host."""
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ServiceError(f"--url {text!r} is not the address of a service; give one like http://127.0.0.1:8080")
    return text.strip().rstrip("/")


def get_json(
    url: str, path: str, token: str, query: dict[str, Any] | None = None, timeout: float = ANSWER_WITHIN_SECONDS
) -> Any:
    """GET `path` of the service at `url` with the token; the answer's JSON within `timeout` seconds."""
    given = {name: value for name, value in (query or {}).items() if value is not None}
    address = f"{url}{path}" + (f"?{urllib.parse.urlencode(given)}" if given else "")
    request = urllib.request.Request(
        address, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as error:  # an answer, but a refusal: before URLError, its base
        raise ServiceError(_refusal(url, path, error)) from None
    except urllib.error.URLError as error:
        raise ServiceError(f"no rota service at {url}: {_reason(error.reason)}; is rota serve running there?") from None
    except TimeoutError:
        raise ServiceError(f"no answer from the rota service at {url} within {timeout:g} s") from None
    except OSError as error:  # the connection dropped while reading
        raise ServiceError(f"the rota service at {url} stopped answering: {_reason(error)}") from None
    try:
        return json.loads(body)
    except ValueError:
        raise ServiceError(
            f"{url} answered GET {path} with something that is not JSON; is it a rota service?"
        ) from None


def _refusal(url: str, path: str, error: urllib.error.HTTPError) -> str:
    if error.code in (401, 403):
        return (
            f"the token is not valid for the rota service at {url} (HTTP {error.code}); pass the token file "
            f"that rota serve uses with --token-file, or set {TOKEN_VARIABLE}"
        )
    try:
        message = json.loads(error.read())["error"]["message"]
    except (ValueError, KeyError, TypeError, OSError):
        return f"{url} answered GET {path} with HTTP {error.code}; is it a rota service, of this version?"
    return f"the rota service at {url} refused GET {path} (HTTP {error.code}): {message}"


def _reason(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "no such host"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason) or "the connection failed"
