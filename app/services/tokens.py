"""Tokens: each session's chain of refresh tokens, from its first token (a login) through every
rotation to a replay, and the access tokens issued with them.

A session (app/services/sessions.py) is one login's chain of refresh tokens. A refresh retires
the token it presents and issues its successor in the same chain. A retired token presented
again is a replay: within the grace after its rotation, while its successor is unused, it answers
that successor again (a double submit from a flaky network is not theft); otherwise its session
ends. Logging out ends the session of a token.

Both doors call the coroutines (`refresh`, `logout`); a login starts its session with
`start_session` (app/services/accounts.py). The plain functions run in `Database.run`'s worker
thread; the writes that stand or fall together run in one `runner.transaction()`.
"""

import uuid
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import bindparam, insert, select, update

from app.errors import AuthError
from app.runtime import Runtime
from app.security import TokenClaims, decode_token, encode_claims, encode_token
from app.services.sessions import USE_SESSION, end_session_of_token, end_stolen_session
from app.settings import Settings
from app.statements import Runner
from models.session import LoginSession
from models.tables import table
from models.token import RefreshToken
from models.user import Tokens, User
from models.utc import utcnow

INVALID_REFRESH_TOKEN = "Invalid or revoked refresh token"  # noqa: S105 (a message)

_users = table(User)
_sessions = table(LoginSession)
_tokens = table(RefreshToken)
_now = bindparam("now", type_=_tokens.c.revoked_at.type)


async def refresh(*, runtime: Runtime, refresh_token: str) -> Tokens:
    """Rotate a refresh token: the old one is retired; replaying it ends its session."""
    return await runtime.db.run(rotate, settings=runtime.settings, refresh_token=refresh_token)


async def logout(*, runtime: Runtime, viewer: TokenClaims, refresh_token: str) -> None:
    """End the session of the caller's refresh token: it can no longer be refreshed, and the
    access tokens of that session stop working at once."""
    await runtime.db.run(_log_out, viewer, settings=runtime.settings, refresh_token=refresh_token)


def _access_token(settings: Settings, user_id: uuid.UUID, session_id: uuid.UUID) -> tuple[str, int]:
    """A fresh access token of the session `session_id`, and its lifetime in seconds."""
    lifetime = timedelta(minutes=settings.access_token_minutes)
    token, _ = encode_token(
        user_id=user_id,
        type="access",
        lifetime=lifetime,
        key=settings.signing_key,
        session_id=session_id,
    )
    return token, int(lifetime.total_seconds())


_START_SESSION = (
    insert(_sessions)
    .from_select(
        ["user_id", "id", "created_at", "last_used_at", "user_agent"],
        select(
            _users.c.id,
            bindparam("session_id", type_=_sessions.c.id.type),
            _now,
            _now,
            bindparam("user_agent", type_=_sessions.c.user_agent.type),
        )
        .where(
            _users.c.id == bindparam("user_id"),
            _users.c.password_hash == bindparam("password_hash"),
        )
        .with_for_update(read=True),
    )
    .returning(_sessions.c.id)
)


def start_session(
    runner: Runner, /, *, settings: Settings, user: User, user_agent: str | None = None
) -> Tokens | None:
    """A new session of `user` (whose password was just checked against `user.password_hash`)
    and its first tokens; None, and nothing written, if that is no longer the user's password.

    The session is written only while the user still has that hash, reading the user's row with
    a share lock: a login that checked the old password as it was being changed either commits
    first, and the change then ends its session, or finds the new hash and is refused."""
    session_id = uuid.uuid4()
    values = {
        "session_id": session_id,
        "user_id": user.id,
        "password_hash": user.password_hash,
        "now": utcnow(),
        "user_agent": user_agent,
    }
    with runner.transaction():
        if runner.first(_START_SESSION, values) is None:
            return None
        return _add_tokens(runner, settings, user.id, session_id=session_id, token_id=session_id)


_ADD_TOKEN = insert(_tokens).values(
    id=bindparam("token_id"),
    user_id=bindparam("user_id"),
    session_id=bindparam("session_id"),
    created_at=bindparam("issued_at"),
    expires_at=bindparam("expires_at"),
)


def _add_tokens(
    runner: Runner,
    settings: Settings,
    user_id: uuid.UUID,
    *,
    session_id: uuid.UUID,
    token_id: uuid.UUID,
) -> Tokens:
    """Record the refresh token `token_id` in the chain `session_id` (in the caller's
    transaction), and answer it with a fresh access token of that session."""
    refresh_token, claims = encode_token(
        user_id=user_id,
        type="refresh",
        lifetime=timedelta(days=settings.refresh_token_days),
        key=settings.signing_key,
        token_id=token_id,
    )
    access_token, expires_in = _access_token(settings, user_id, session_id)
    values = {
        "token_id": claims.token_id,
        "user_id": user_id,
        "session_id": session_id,
        "issued_at": claims.issued_at,  # with expires_at, enough to sign the same token again
        "expires_at": claims.expires_at,
    }
    runner.all(_ADD_TOKEN, values)
    return Tokens(access_token=access_token, refresh_token=refresh_token, expires_in=expires_in)


class _AnsweredAgain(Exception):
    """A retired refresh token replayed within the grace: the rotation's transaction ends with
    nothing written, and its successor is answered again."""

    def __init__(self, tokens: Tokens) -> None:
        super().__init__()
        self.tokens = tokens


class _Replayed(Exception):
    """A retired refresh token was replayed outside the grace: its session must end. It ends in
    a statement of its own after the rotation's transaction (`end_stolen_session`), which
    announces the end, so the session's live sockets close as on every other ending."""

    def __init__(self, session_id: uuid.UUID) -> None:
        super().__init__(session_id)
        self.session_id = session_id


def rotate(runner: Runner, /, *, settings: Settings, refresh_token: str) -> Tokens:
    """Retire `refresh_token` and issue its successor in the same chain, while its session lives;
    answer a replay (`_answer_replay`). `AuthError` for a token that is not to be refreshed."""
    claims = decode_token(refresh_token, key=settings.signing_key, expected_type="refresh")
    try:
        with runner.transaction():
            return _rotate(runner, settings, claims)
    except _AnsweredAgain as again:
        return again.tokens
    except _Replayed as replayed:  # taken as theft
        end_stolen_session(runner, session_id=replayed.session_id)
        raise AuthError(INVALID_REFRESH_TOKEN) from None


_RETIRE = (
    update(_tokens)
    .where(
        _tokens.c.id == bindparam("token_id"),
        _tokens.c.revoked_at.is_(None),
        _tokens.c.expires_at > _now,
    )
    .values(revoked_at=_now, replaced_by=bindparam("successor_id"))
    .returning(_tokens.c.session_id)
)


def _rotate(runner: Runner, settings: Settings, claims: TokenClaims) -> Tokens:
    """The rotation's transaction. It first takes its session's row (`USE_SESSION`), which
    orders it with every ending of the session (app/services/sessions.py).

    Retiring is one conditional UPDATE that names the successor, so of several concurrent
    refreshes exactly one makes a successor. A token that could not be retired is a replay, or
    has expired."""
    now, successor_id = utcnow(), uuid.uuid4()
    values = {
        "token_id": claims.token_id,
        "user_id": claims.user_id,
        "now": now,
        "successor_id": successor_id,
    }
    if runner.first(USE_SESSION, values) is None:  # unknown, or ended
        raise AuthError(INVALID_REFRESH_TOKEN)
    retired = runner.first(_RETIRE, values)
    if retired is None:
        _answer_replay(runner, settings, claims.token_id, now)
    (session_id,) = retired
    return _add_tokens(
        runner, settings, claims.user_id, session_id=session_id, token_id=successor_id
    )


_TOKEN = select(*_tokens.c).where(_tokens.c.id == bindparam("token_id"))


def _token(runner: Runner, token_id: uuid.UUID) -> RefreshToken | None:
    found = runner.first(_TOKEN, {"token_id": token_id})
    if found is None:
        return None
    return RefreshToken.model_validate(dict(zip(_tokens.c.keys(), found, strict=True)))


def _answer_replay(
    runner: Runner, settings: Settings, token_id: uuid.UUID, now: datetime
) -> NoReturn:
    """A refresh token of a live session that could not be retired: answer its successor within
    the grace (`_AnsweredAgain`), or treat the replay as theft (`_Replayed`: `rotate` ends the
    session). `AuthError` when there is nothing to answer or end."""
    record = _token(runner, token_id)
    if record is None or record.revoked_at is None:  # expired: nothing to end
        raise AuthError(INVALID_REFRESH_TOKEN)
    grace = timedelta(seconds=settings.refresh_reuse_grace_seconds)
    successor = _token(runner, record.replaced_by) if record.replaced_by else None
    if (
        successor is not None
        and now - record.revoked_at <= grace
        and successor.revoked_at is None
        and successor.expires_at > now
    ):
        access_token, expires_in = _access_token(settings, successor.user_id, successor.session_id)
        again = TokenClaims(
            user_id=successor.user_id,
            token_id=successor.id,
            type="refresh",
            issued_at=successor.created_at,
            expires_at=successor.expires_at,
        )
        refresh_token = encode_claims(again, key=settings.signing_key)
        raise _AnsweredAgain(
            Tokens(access_token=access_token, refresh_token=refresh_token, expires_in=expires_in)
        )
    raise _Replayed(record.session_id)


def _log_out(
    runner: Runner, viewer: TokenClaims, /, *, settings: Settings, refresh_token: str
) -> None:
    """End the session of `refresh_token` (one of the caller's), at once: its access tokens stop
    working too."""
    claims = decode_token(refresh_token, key=settings.signing_key, expected_type="refresh")
    if claims.user_id != viewer.user_id:
        raise AuthError(INVALID_REFRESH_TOKEN)
    end_session_of_token(runner, viewer, claims.token_id)
