"""`rota explain`: why a decision came out as it did (issue 12), from the engine's own compiled policy.

The API other commands use (`rota test`, `rota diff`), kept stable:

    explain_run(policy: CompiledPolicy, roster: Roster, events: Iterable[Event],
                wanted: Callable[[Decision], bool], user: str | None = None,
                until: datetime | None = None) -> list[Explanation]
        Run the events as `rota replay` does (the roster is not changed) and
        explain, in order, every decision `wanted` accepts; `until` as replay's
        (default: the last event's time). With `user`, each explanation also
        says why that user was or was not chosen.

    explain_batch(policy: CompiledPolicy, roster: Roster, contacts: list[Contact],
                  now: datetime, wanted: Callable[[Decision], bool],
                  user: str | None = None) -> list[Explanation]
        The same for `rota batch`'s one pass over contacts.

    Explanation.render_text() -> str        the text `rota explain` prints
    Explanation.to_json() -> dict           JSON values: what `--format json` prints
    Explanation.seq                         the decision's position in the run (the first is 0)
    Explanation.decision                    its row (SPEC 5.1)

An Explanation is a pydantic model (model.py): the same shape is the
service's answer to `GET /v1/decisions/{seq}/explain`.
"""

from .model import Explanation, Via
from .run import explain_batch, explain_recorded, explain_run, record_run

__all__ = ["Explanation", "Via", "explain_batch", "explain_recorded", "explain_run", "record_run"]
