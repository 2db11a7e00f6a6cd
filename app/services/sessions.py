"""Sessions: whether one is live, and the ones a person can see and end.

A session is one login's chain of refresh tokens, described by its `LoginSession` row, and lives
until the row's `ended_at` is set. Access tokens carry their session's id, and every service run
on an access token's behalf refuses it once its session has ended (`SESSION_ENDED`): in its own
statement where it can (`session_live`), else with `require_session`. So an ended session stops
working at once, on every door and every instance.

Every way of ending sessions is an UPDATE of their rows, and a refresh updates its session's row
before it rotates (app/services/tokens.py): the row lock orders the two, so a refresh racing an
ending either finishes first, and its new token ends with the session, or finds it ended.
"""

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, exists, literal, or_, select, update

from app.errors import AuthError, NotFound
from app.events import SESSION_ENDED_KIND, announce
from app.security import TokenClaims
from app.statements import Runner
from models.identity import Identity
from models.session import LoginSession, SessionPublic
from models.tables import table
from models.token import RefreshToken
from models.utc import utcnow

SESSION_ENDED = "Session has ended"
SESSION_NOT_FOUND = "Session not found"

_tokens = table(RefreshToken)
_sessions = table(LoginSession)
# The caller's own session, under a name of its own, so that statements on `sessions` itself
# (listing, ending) do not correlate it with the rows they read or change.
_callers = _sessions.alias("caller_session")
_identities = table(Identity)
_now = bindparam("now", type_=_sessions.c.ended_at.type)
# Each ending announces it (`app.events`), so the live sockets of the session close (4401).
_ENDED = announce(SESSION_ENDED_KIND, _sessions.c.user_id, _sessions.c.id, 0, _now)


def session_live() -> ColumnElement[bool]:
    """True while the session bound to `:session_id`, of the user `:user_id`, is live: a login's
    session not ended, or the identity a Better Auth token signed in with (app/services/
    identities.py) still there. Both go with their user, so it is false for a user who no longer
    exists, too. Statements made on an access token's behalf carry it, so that checking the
    session costs no statement of its own (primary-key lookups)."""
    return or_(
        exists().where(
            _callers.c.id == bindparam("session_id"),
            _callers.c.user_id == bindparam("user_id"),
            _callers.c.ended_at.is_(None),
        ),
        exists().where(
            _identities.c.id == bindparam("session_id"),
            _identities.c.user_id == bindparam("user_id"),
        ),
    )


def caller(viewer: TokenClaims) -> dict[str, object]:
    """The values `session_live()` binds."""
    return {"user_id": viewer.user_id, "session_id": viewer.session_id}


_SESSION_LIVE = select(literal(True)).where(session_live())


def require_live(live: object) -> None:
    """`AuthError` when a statement's `session_live()` column read false: for the statements
    that carry the check as a column (an aggregate, a page), so that it answers on every row."""
    if not live:
        raise AuthError(SESSION_ENDED)


def require_session(runner: Runner, viewer: TokenClaims) -> None:
    """`AuthError` when the session of an access token has ended. For the services whose
    statement found nothing: was it the row, or the session?"""
    if runner.scalar(_SESSION_LIVE, caller(viewer)) is None:
        raise AuthError(SESSION_ENDED)


# What the list calls live: not ended, and its chain still has a token to refresh.
_listed = (
    _sessions.c.user_id == bindparam("user_id"),
    _sessions.c.ended_at.is_(None),
    exists().where(
        _tokens.c.session_id == _sessions.c.id,
        _tokens.c.revoked_at.is_(None),
        _tokens.c.expires_at > _now,
    ),
)
_LIVE_SESSIONS = (
    select(_sessions.c.id, _sessions.c.created_at, _sessions.c.last_used_at, _sessions.c.user_agent)
    .where(*_listed, session_live())
    .order_by(_sessions.c.created_at.desc(), _sessions.c.id.desc())
)


def live_sessions(runner: Runner, viewer: TokenClaims) -> list[SessionPublic]:
    """The caller's live sessions, newest first, their own marked `current`."""
    rows = runner.all(_LIVE_SESSIONS, {**caller(viewer), "now": utcnow()})
    if not rows:  # none live, or the caller's own session has ended
        require_session(runner, viewer)
    columns = _LIVE_SESSIONS.selected_columns.keys()
    return [
        SessionPublic(**dict(zip(columns, row, strict=True)), current=row[0] == viewer.session_id)
        for row in rows
    ]


_END_SESSION = (
    update(_sessions)
    .where(_sessions.c.id == bindparam("target_id"), *_listed, session_live())
    .values(ended_at=_now)
    .returning(_sessions.c.id, _ENDED)
)


def end_session(runner: Runner, viewer: TokenClaims, /, *, session_id: uuid.UUID) -> None:
    """End one of the caller's listed sessions (their own included), in one UPDATE.
    `NotFound` for a session that is not the caller's, or not listed."""
    values = {**caller(viewer), "target_id": session_id, "now": utcnow()}
    if runner.first(_END_SESSION, values) is None:
        require_session(runner, viewer)
        raise NotFound(SESSION_NOT_FOUND)


_END_OTHER_SESSIONS = (
    update(_sessions)
    .where(
        _sessions.c.user_id == bindparam("user_id"),
        _sessions.c.id != bindparam("session_id"),
        _sessions.c.ended_at.is_(None),
    )
    .values(ended_at=_now)
    .returning(_sessions.c.id, _ENDED)
)


def end_other_sessions(runner: Runner, viewer: TokenClaims, now: datetime) -> None:
    """End every session of the caller's but their own."""
    runner.all(_END_OTHER_SESSIONS, {**caller(viewer), "now": now})


_END_ALL_SESSIONS = (
    update(_sessions)
    .where(_sessions.c.user_id == bindparam("user_id"), _sessions.c.ended_at.is_(None))
    .where(session_live())
    .values(ended_at=_now)
    .returning(_sessions.c.id, _ENDED)
)


def end_all_sessions(runner: Runner, viewer: TokenClaims, now: datetime) -> None:
    """End every session of the caller's, theirs included: `AuthError` if it had ended. (A
    caller signed in with Better Auth may have none to end.)"""
    if not runner.all(_END_ALL_SESSIONS, {**caller(viewer), "now": now}):
        require_session(runner, viewer)


_END_STOLEN_SESSION = (
    update(_sessions)
    .where(_sessions.c.id == bindparam("target_id"), _sessions.c.ended_at.is_(None))
    .values(ended_at=_now)
    .returning(_sessions.c.id, _ENDED)
)


def end_stolen_session(runner: Runner, /, *, session_id: uuid.UUID) -> None:
    """End the session whose retired refresh token was replayed (app/services/tokens.py)."""
    runner.all(_END_STOLEN_SESSION, {"target_id": session_id, "now": utcnow()})


# The chain (so the session id) of the refresh token `:token_id`, if it is `:user_id`'s.
_CHAIN_OF_TOKEN = (
    select(_tokens.c.session_id)
    .where(_tokens.c.id == bindparam("token_id"), _tokens.c.user_id == bindparam("user_id"))
    .scalar_subquery()
)


_END_SESSION_OF_TOKEN = (
    update(_sessions)
    .where(
        _sessions.c.id == _CHAIN_OF_TOKEN,
        _sessions.c.ended_at.is_(None),
        session_live(),
    )
    .values(ended_at=_now)
    .returning(_sessions.c.id, _ENDED)
)

# The first statement of a refresh (app/services/tokens.py): it takes the session's row lock,
# which orders the refresh with any ending above, and moves `last_used_at`.
USE_SESSION = (
    update(_sessions)
    .where(_sessions.c.id == _CHAIN_OF_TOKEN, _sessions.c.ended_at.is_(None))
    .values(last_used_at=_now)
    .returning(_sessions.c.id)
)


def end_session_of_token(runner: Runner, viewer: TokenClaims, token_id: uuid.UUID) -> None:
    """Logout: end the session of the caller's refresh token `token_id` (any token of its chain).
    Ending one that had already ended changes nothing, while the caller's own session is live."""
    values = {**caller(viewer), "token_id": token_id, "now": utcnow()}
    if runner.first(_END_SESSION_OF_TOKEN, values) is None:
        require_session(runner, viewer)
