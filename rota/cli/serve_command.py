"""`rota serve`: the routing engine as an HTTP service (SPEC 5.2)."""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from rota.dsl import PolicyError, analyze
from rota.jobs import load_snapshot_warning

from .common import OK, Command, InputError, os_problem, policy_source, say, warner

if TYPE_CHECKING:
    from rota.service import Webhook


def register(command: Command) -> None:
    serve = command("serve", "the routing engine as an HTTP service")
    serve.add_argument("--db", metavar="FILE", required=True, help="the engine's DuckDB file (created when new)")
    serve.add_argument(
        "--policy",
        metavar="FILE_OR_DIR",
        required=True,
        help="a policy file, or a folder whose .rota files are read in name order",
    )
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="the port to listen on")
    serve.add_argument("--token-file", metavar="FILE", help="the bearer token (default: generated beside the db)")
    serve.add_argument("--snapshot", metavar="DIR", help="users and teams to start a new engine file with")
    serve.add_argument(
        "--no-explain",
        action="store_true",
        help="keep no notes for `rota explain --url` (GET /v1/decisions/{seq}/explain then answers 404 for "
        "the decisions made meanwhile); saves their cost per decision, which the README gives",
    )
    serve.add_argument("--webhook", metavar="URL", help="post every decision to this http(s) URL (default: none)")
    serve.add_argument(
        "--webhook-secret-file",
        metavar="FILE",
        help="the secret that signs each post (X-Rota-Signature); default: posts are not signed",
    )
    serve.add_argument(
        "--webhook-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long to wait for the receiver's answer before trying again",
    )
    serve.set_defaults(run=run_serve)


def run_serve(arguments, errors: Console) -> int:
    """Every input is checked and the port bound before the engine file or the token is made;
    if the service cannot start, what this command made is removed again."""
    import uvicorn

    from rota.engine import DurableEngine, Roster, load_roster
    from rota.engine.provenance import Run
    from rota.explain.inputs import ExplainedDurableEngine
    from rota.service import RotaService, create_app, utc_now
    from rota.storage.engine_store import remove_engine_file
    from rota.tokens import create_token, existing_token, token_path

    if not 0 <= arguments.port < 65536:
        raise InputError(f"--port {arguments.port} is not a port; give one from 1 to 65535, or 0 for any free one")
    source = policy_source(arguments.policy)
    policy, diagnostics = analyze(source)
    if policy is None:
        raise PolicyError([d for d in diagnostics if d.is_error], source.texts)
    webhook = _webhook(arguments)
    token = existing_token(arguments.token_file, arguments.db)
    token_file = token_path(arguments.token_file, arguments.db)
    roster = (
        load_roster(load_snapshot_warning(arguments.snapshot, warner(errors)).connection)
        if arguments.snapshot
        else None
    )
    run = Run.serve(source.name, roster)
    with _listening_socket(arguments.host, arguments.port) as listener:
        new_engine_file, made_token = not Path(arguments.db).exists(), False
        engine = server = None
        try:
            kind = DurableEngine if arguments.no_explain else ExplainedDurableEngine
            engine = kind.open(arguments.db, source, roster or Roster(), source.name, utc_now(), run=run)
            if token is None:
                token, made_token = create_token(token_file), True
            service = RotaService(engine, token, webhook)
            server = _server(uvicorn.Config(create_app(service), log_level="warning"), service)
            url = f"http://{arguments.host}:{listener.getsockname()[1]}"  # the port bound, for --port 0 too
            say(
                errors,
                f"rota serving {url} (API docs: {url}/docs); engine file {arguments.db}; bearer token in {token_file}"
                + ("" if webhook is None else f"; decisions posted to {webhook.url}"),
            )
            server.run(sockets=[listener])
        except BaseException as error:
            if server is not None and server.started:  # it served: the file is the service's now
                raise
            if engine is not None:
                engine.store.close()
            if new_engine_file:
                remove_engine_file(arguments.db)
            if made_token:
                token_file.unlink(missing_ok=True)
            if isinstance(error, SystemExit):  # uvicorn's word that the application did not start
                raise InputError(f"{arguments.db}: the service did not start; see the lines above") from None
            raise
    return OK


def _server(config, service):
    """uvicorn's server, which ends the open decision streams as soon as a shutdown begins
    (it waits for every open response to finish, and a stream never does)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            service.end_streams()
            super().handle_exit(sig, frame)

    return Server(config)


def _webhook(arguments) -> Webhook | None:
    from urllib.parse import urlsplit

    from rota.service import Webhook
    from rota.tokens import read_secret

    if arguments.webhook is None:
        if arguments.webhook_secret_file is not None:
            raise InputError("--webhook-secret-file signs the webhook's posts; give --webhook URL too")
        return None
    parts = urlsplit(arguments.webhook)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"--webhook {arguments.webhook}: not an http(s) URL; give one such as http://host:port/path")
    if not 0 < arguments.webhook_timeout <= 300:
        raise InputError(
            f"--webhook-timeout {arguments.webhook_timeout:g}: give a number of seconds above 0, up to 300"
        )
    secret = None
    if arguments.webhook_secret_file is not None:
        secret = read_secret(Path(arguments.webhook_secret_file), "webhook secret file").encode()
    return Webhook(arguments.webhook, secret, arguments.webhook_timeout)


def _listening_socket(host: str, port: int) -> socket.socket:
    """The service's socket, bound first, so a busy port or a bad host stops before anything is made."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError):
        raise InputError(
            f"--host {host}: no such host or address; pass --host 127.0.0.1 or another of this machine's"
        ) from None
    try:
        return socket.create_server(address, family=family, backlog=2048)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise InputError(f"port {port} on {host} is in use; stop the other program or pass --port") from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise InputError(f"--host {host} is not an address of this machine; pass --host 127.0.0.1") from None
        if error.errno == errno.EACCES:
            raise InputError(f"port {port} on {host} needs privileges; pass --port above 1023") from None
        raise InputError(
            f"cannot listen on port {port} of {host}: {os_problem(error)}; pass another --host or --port"
        ) from None
