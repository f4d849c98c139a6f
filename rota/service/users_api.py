"""User and team endpoints: a user's fields and status, deletion and undeletion, team membership, reading them."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Response

from rota import diagnostics as codes
from rota.engine import User, format_instant
from rota.storage import user_attributes
from rota.vocabulary import USER_DELETED_COLUMN, EventType, Status, UserField

from .core import RotaService
from .errors import ApiError, error_responses, refused
from .inputs import After, DeletedFilter, Limit, StatusFilter, TeamFilter, TeamName, UserId
from .models import TeamBody, TeamSummary, UserBody, UserChange, UserPage

STATUSES = Status.texts()
DEFAULT_PAGE = 100
# The fields of PUT /v1/users/{id} beside `attrs`: a user's own, set as a `user` event's attrs would.
USER_BODY_FIELDS = (UserField.STATUS.value, UserField.NAME.value, USER_DELETED_COLUMN)


def add_user_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.put(
        "/v1/users/{user_id:path}",
        dependencies=authorized,
        response_model=UserBody,
        responses=error_responses(400, 503),
    )
    async def put_user(user_id: UserId, body: UserChange | None = None):
        """Create or change a user (a `user` event); `"deleted": false` undeletes one."""
        change = body or UserChange()
        given = change.model_dump(include=set(USER_BODY_FIELDS), exclude_none=True, mode="json")
        try:  # the same value rules as a snapshot and a `user` event (rota.storage.kinds)
            changes = user_attributes({**change.attrs.model_dump(exclude_unset=True, mode="json"), **given})
        except ValueError as error:
            raise refused(codes.BAD_ATTRIBUTE, "body.attrs", str(error)) from None
        await service.apply(EventType.USER.value, user=user_id, attrs=changes)
        with service.lock:
            return user_view(known_user(service, user_id))

    @app.get("/v1/users", dependencies=authorized, response_model=UserPage, responses=error_responses())
    def list_users(
        status: StatusFilter = None,
        team: TeamFilter = None,
        deleted: DeletedFilter = None,
        after: After = None,
        limit: Limit = DEFAULT_PAGE,
    ):
        """The users in id order, deleted ones too, filtered by status, team and deletion, a page at a time."""
        with service.lock:
            users = service.engine.users(
                status=status.value if status else None, team=team, deleted=deleted, after=after, limit=limit + 1
            )
            page = [user_view(user) for user in users[:limit]]
        return {"users": page, "next": page[-1]["id"] if len(users) > limit else None}

    @app.get(
        "/v1/users/{user_id:path}", dependencies=authorized, response_model=UserBody, responses=error_responses(404)
    )
    def get_user(user_id: UserId):
        """A user; a deleted one is gone (404) until undeleted, though GET /v1/users still lists it."""
        with service.lock:
            return user_view(present_user(service, user_id))

    @app.delete(
        "/v1/users/{user_id:path}",
        dependencies=authorized,
        status_code=204,
        response_class=Response,
        responses=error_responses(404, 503),
    )
    async def delete_user(user_id: UserId):
        """Delete a user: never a candidate again; contacts it holds stay with it. `"deleted": false` undoes it."""
        present_user(service, user_id)
        await service.apply(EventType.DELETE.value, user=user_id)
        return Response(status_code=204)

    @app.get("/v1/teams", dependencies=authorized, response_model=list[TeamSummary], responses=error_responses())
    def list_teams():
        """Every team a user has joined, by name, with its numbers of members and of members online."""
        with service.lock:
            return [
                {"team": team, "members": len(members), "members_online": online_count(members)}
                for team, members in service.engine.teams().items()
            ]

    # `{team:path}/members/{user_id:path}`: a team name may hold `/`, but not `/members/`.
    membership = "/v1/teams/{team:path}/members/{user_id:path}"
    joined = error_responses(404, 503)

    @app.put(membership, dependencies=authorized, status_code=204, response_class=Response, responses=joined)
    async def join(team: TeamName, user_id: UserId):
        known_user(service, user_id)
        await service.apply(EventType.JOIN.value, user=user_id, team=team)
        return Response(status_code=204)

    @app.delete(membership, dependencies=authorized, status_code=204, response_class=Response, responses=joined)
    async def leave(team: TeamName, user_id: UserId):
        known_user(service, user_id)
        await service.apply(EventType.LEAVE.value, user=user_id, team=team)
        return Response(status_code=204)

    @app.get("/v1/teams/{team:path}", dependencies=authorized, response_model=TeamBody, responses=error_responses(404))
    def get_team(team: TeamName):
        """A team's members (in id order) and how many are online."""
        with service.lock:
            members = service.engine.team(team)
            if members is None:
                raise ApiError(
                    404, "unknown_team", f"no team `{team}`; add a member with PUT /v1/teams/{team}/members/USER"
                )
            return {
                "team": team,
                "members": [user_view(user) for user in members],
                "members_online": online_count(members),
            }


def online_count(members: list[User]) -> int:
    return sum(user.status == Status.ONLINE and not user.deleted for user in members)


def user_view(user: User) -> dict[str, Any]:
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


def known_user(service: RotaService, user_id: str) -> User:
    user = service.engine.user(user_id)
    if user is None:
        raise ApiError(404, "unknown_user", f"no user `{user_id}`; create it with PUT /v1/users/{user_id}")
    return user


def present_user(service: RotaService, user_id: str) -> User:
    """A user that is not deleted: a deleted one answers 404, saying how to undelete it."""
    user = known_user(service, user_id)
    if user.deleted:
        raise ApiError(
            404,
            "deleted_user",
            f'user `{user_id}` is deleted; PUT /v1/users/{user_id} with {{"deleted": false}} undeletes it',
        )
    return user
