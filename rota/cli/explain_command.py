"""`rota explain`: why a decision of a replay, a batch or a running service came out as it did (issue 12)."""

from __future__ import annotations

import json

from rich.console import Console

from .common import OK, Command, InputError, existing_policy, input_file, parse_time, token_option, warner


def register(command: Command) -> None:
    explain = command("explain", "why a decision went as it did: its route, pool, filters and tie-break")
    explain.add_argument("policy", metavar="POLICY", nargs="?", help="the policy file (not with --url)")
    explain.add_argument("--snapshot", metavar="DIR", help="the users, teams and rotation the run starts from")
    source = explain.add_mutually_exclusive_group(required=True)
    source.add_argument("--events", metavar="LOG", help="a replay's event log: explain one of its decisions")
    source.add_argument("--contacts", metavar="FILE", help="a batch's contacts: explain one contact's decision")
    source.add_argument("--url", metavar="URL", help="a running rota serve, e.g. http://127.0.0.1:8080")
    token_option(explain, "with --url: ")
    explain.add_argument(
        "--seq",
        metavar="N",
        type=int,
        help="the decision's number: the replay's N-th row counting from 0, or the service's seq",
    )
    explain.add_argument("--contact", metavar="C", help="the contact whose decision to explain (not with --url)")
    explain.add_argument(
        "--nth", metavar="K", type=int, default=1, help="with --events --contact: the contact's K-th decision"
    )
    explain.add_argument("--until", metavar="T", help="with --events: as rota replay's --until")
    explain.add_argument("--now", metavar="T", help="with --contacts: as rota batch's --now (default: now)")
    explain.add_argument("--user", metavar="U", help="also say why user U was or was not chosen")
    explain.add_argument(
        "--format", choices=("text", "json"), default="text", help="lines for a reader, or one JSON object"
    )
    explain.set_defaults(run=run_explain)


def run_explain(arguments, errors: Console) -> int:
    from rota.explain.files import NoSuchDecision

    try:
        explanation = _from_service(arguments) if arguments.url else _from_files(arguments, errors)
    except NoSuchDecision as error:
        raise InputError(str(error)) from None
    if arguments.format == "json":
        print(json.dumps(explanation.to_json(), ensure_ascii=False, indent=2))
    else:
        print(explanation.render_text(), end="")
    return OK


def _from_files(arguments, errors: Console):
    from rota.explain.files import Wanted, explain_batch_file, explain_replay_file

    if arguments.policy is None or arguments.snapshot is None:
        raise InputError("give the POLICY and --snapshot DIR the decision was made with (or --url for a service)")
    policy = existing_policy(arguments.policy)
    if arguments.events:
        input_file(arguments.events, "event log")
        if (arguments.seq is None) == (arguments.contact is None):
            raise InputError("with --events, give the decision as --seq N or as --contact C (with --nth K)")
        until = parse_time(arguments.until, "--until") if arguments.until else None
        wanted = Wanted(arguments.seq, arguments.contact, arguments.nth)
        return explain_replay_file(
            policy, arguments.snapshot, arguments.events, wanted, arguments.user, until, warner(errors)
        )
    input_file(arguments.contacts, "contacts file")
    if arguments.contact is None or arguments.seq is not None:
        raise InputError("with --contacts, give the contact as --contact C (a batch makes one decision per contact)")
    now = parse_time(arguments.now, "--now")
    return explain_batch_file(
        policy, arguments.snapshot, arguments.contacts, arguments.contact, now, arguments.user, warner(errors)
    )


def _from_service(arguments):
    from rota.explain import Explanation
    from rota.remote import get_json, service_token, service_url

    if arguments.policy or arguments.snapshot or arguments.contact:
        raise InputError("with --url, the service knows the policy and its history: give only --seq N (and --user U)")
    if arguments.seq is None:
        raise InputError("with --url, give the decision's --seq N (as rota log --url shows it)")
    url, token = service_url(arguments.url), service_token(arguments.token_file)
    answer = get_json(url, f"/v1/decisions/{arguments.seq}/explain", token, {"user": arguments.user})
    return Explanation.model_validate(answer)
