"""Sessions: whether one is live, and the ones a person can see and end.

A session is one login's chain of refresh tokens (`LoginSession` describes it) and lives while a
token of the chain is unrevoked. Access tokens carry their session's id, and every service run
on an access token's behalf refuses it once its session has ended (`SESSION_ENDED`): in its own
statement where it can (`session_live`), else with `require_session`. Ending a session is
revoking its chain, so an ended session stops working at once, on every door and every instance.
"""

import uuid
from datetime import datetime

from sqlalchemy import Exists, bindparam, exists, literal, select, update

from app.errors import AuthError, NotFound
from app.security import TokenClaims
from app.statements import Runner
from models.session import LoginSession, SessionPublic
from models.token import RefreshToken
from models.utc import utcnow

SESSION_ENDED = "Session has ended"
SESSION_NOT_FOUND = "Session not found"

_tokens = RefreshToken.metadata.tables[RefreshToken.__tablename__]
_sessions = LoginSession.metadata.tables[LoginSession.__tablename__]
_now = bindparam("now", type_=_tokens.c.revoked_at.type)


def session_live() -> Exists:
    """True while the session bound to `:session_id`, of the user `:user_id`, is live: a refresh
    token of its chain is unrevoked. Tokens go with their user, so it is false for a user who no
    longer exists, too. Statements made on an access token's behalf carry it, so that checking
    the session costs no statement of its own (the chain's index finds it)."""
    return exists().where(
        _tokens.c.family_id == bindparam("session_id"),
        _tokens.c.user_id == bindparam("user_id"),
        _tokens.c.revoked_at.is_(None),
    )


def caller(viewer: TokenClaims) -> dict[str, object]:
    """The values `session_live()` binds."""
    return {"user_id": viewer.user_id, "session_id": viewer.session_id}


_SESSION_LIVE = select(literal(True)).where(session_live())


def require_session(runner: Runner, viewer: TokenClaims) -> None:
    """`AuthError` when the session of an access token has ended. For the services whose
    statement found nothing: was it the row, or the session?"""
    if runner.scalar(_SESSION_LIVE, caller(viewer)) is None:
        raise AuthError(SESSION_ENDED)


# The chain has an unrevoked token that can still be refreshed: what the list calls live.
_refreshable = exists().where(
    _tokens.c.family_id == _sessions.c.id,
    _tokens.c.revoked_at.is_(None),
    _tokens.c.expires_at > _now,
)
_LIVE_SESSIONS = (
    select(_sessions.c.id, _sessions.c.created_at, _sessions.c.last_used_at, _sessions.c.user_agent)
    .where(_sessions.c.user_id == bindparam("user_id"), _refreshable, session_live())
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
    update(_tokens)
    .where(
        _tokens.c.family_id == bindparam("target_id"),
        _tokens.c.user_id == bindparam("user_id"),
        _tokens.c.revoked_at.is_(None),
        _tokens.c.expires_at > _now,
        session_live(),
    )
    .values(revoked_at=_now)
    .returning(_tokens.c.id)
)


def end_session(runner: Runner, viewer: TokenClaims, /, *, session_id: uuid.UUID) -> None:
    """End one of the caller's live sessions (their own included): one UPDATE of its chain.
    `NotFound` for a session that is not the caller's, or not live."""
    values = {**caller(viewer), "target_id": session_id, "now": utcnow()}
    if runner.first(_END_SESSION, values) is None:
        require_session(runner, viewer)
        raise NotFound(SESSION_NOT_FOUND)


_END_OTHER_SESSIONS = (
    update(_tokens)
    .where(
        _tokens.c.user_id == bindparam("user_id"),
        _tokens.c.family_id != bindparam("session_id"),
        _tokens.c.revoked_at.is_(None),
    )
    .values(revoked_at=_now)
)


def end_other_sessions(runner: Runner, viewer: TokenClaims, now: datetime) -> None:
    """End every session of the caller's but their own."""
    runner.all(_END_OTHER_SESSIONS, {**caller(viewer), "now": now})
