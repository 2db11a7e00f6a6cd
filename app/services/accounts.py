"""Accounts and tokens: signup, login, refresh rotation with reuse detection, logout, password
change, account deletion.

Both doors call the coroutines (`signup`, `signup_and_login`, `login`, `refresh`, `logout`, `me`,
`change_password`, `delete_account`), each with the runtime: bcrypt runs in the hasher's bounded
threads and each piece of database work in a worker thread (the plain functions below, handed to
`Database.run` or `Database.read`), so nothing stalls the event loop and no connection is held
while a hash runs.

A password change and an account deletion ask for the password again, checked as a login checks
it and counted by the same throttles. Both end sessions (app/services/sessions.py): every other
one, or all of them with the account.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from anyio import to_thread
from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.errors import AuthError, Conflict, FieldError
from app.runtime import Runtime
from app.security import TokenClaims, decode_token, encode_claims, encode_token
from app.services.sessions import (
    SESSION_ENDED,
    USE_SESSION,
    caller,
    end_all_sessions,
    end_other_sessions,
    end_session_of_token,
    end_stolen_session,
    require_session,
    session_live,
)
from app.settings import Settings
from app.statements import Runner
from app.throttle import Client
from models.session import LoginSession, PasswordChange
from models.token import RefreshToken
from models.user import LoginRequest, SignupRequest, Tokens, User
from models.utc import utcnow

INVALID_CREDENTIALS = "Invalid credentials"
EMAIL_TAKEN = "Email already registered"
INVALID_REFRESH_TOKEN = "Invalid or revoked refresh token"  # noqa: S105 (a message)


@dataclass(frozen=True)
class LoginResult:
    """What a successful login hands back."""

    user: User
    tokens: Tokens


def _email_taken() -> Conflict:
    return Conflict(EMAIL_TAKEN, [FieldError("email", "is already registered")])


def find_user_by_email(session: Session, /, *, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email)).first()


def _insert_user(session: Session, /, *, data: SignupRequest, password_hash: str) -> User:
    user = User(email=data.email, name=data.name, password_hash=password_hash)
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # the same email signed up at the same moment
        session.rollback()
        raise _email_taken() from None
    return user


async def signup(*, runtime: Runtime, client: Client, data: SignupRequest) -> User:
    """Every attempt that gets this far counts against the client's address, whether or not the
    email turns out to be free: both a new account and "already registered" are worth limiting."""
    client.password_checks.take()
    await to_thread.run_sync(runtime.throttles.signup_by_address.claim, client.address)
    if await runtime.db.run(find_user_by_email, email=data.email) is not None:
        raise _email_taken()
    password_hash = await runtime.hasher.hash(data.password)
    return await runtime.db.run(_insert_user, data=data, password_hash=password_hash)


async def login(*, runtime: Runtime, client: Client, credentials: LoginRequest) -> LoginResult:
    """Unknown emails and wrong passwords get the same error after the same bcrypt work.

    The attempt takes its place in the throttles (per email and per address) before the password
    is checked; only a wrong password keeps it. No connection is held while bcrypt runs (each
    `db.run` returns its connection to the pool).
    """
    email, address, throttles = credentials.email, client.address, runtime.throttles
    client.password_checks.take()
    await to_thread.run_sync(throttles.claim_login, email, address)
    try:
        user = await runtime.db.run(find_user_by_email, email=email)
    except BaseException:  # no password was checked: nothing to count
        await to_thread.run_sync(throttles.give_back_login, email, address)
        raise
    if not await runtime.hasher.verify(credentials.password, user.password_hash if user else None):
        raise AuthError(INVALID_CREDENTIALS)
    assert user is not None  # verify() is False without a hash
    await to_thread.run_sync(throttles.give_back_login, email, address)
    return await _logged_in(runtime, client, user)


async def signup_and_login(*, runtime: Runtime, client: Client, data: SignupRequest) -> LoginResult:
    """A new account, logged in at once (GraphQL's `signup` answers both)."""
    user = await signup(runtime=runtime, client=client, data=data)
    return await _logged_in(runtime, client, user)


async def _logged_in(runtime: Runtime, client: Client, user: User) -> LoginResult:
    """`user` with a fresh pair of tokens: a new session, described by the client's user agent."""
    tokens = await runtime.db.run(
        start_session, settings=runtime.settings, user=user, user_agent=client.user_agent
    )
    return LoginResult(user=user, tokens=tokens)


async def refresh(*, runtime: Runtime, refresh_token: str) -> Tokens:
    """Rotate a refresh token: the old one is retired; replaying it ends its session."""
    try:
        return await runtime.db.run(_rotate, settings=runtime.settings, refresh_token=refresh_token)
    except _Replayed as replayed:  # taken as theft
        await runtime.db.read(end_stolen_session, session_id=replayed.session_id)
        raise AuthError(INVALID_REFRESH_TOKEN) from None


class _Replayed(Exception):
    """A retired refresh token was replayed outside the grace: its session must end. It ends in
    a statement of its own after the rotation's transaction (`end_stolen_session`), which
    announces the end, so the session's live sockets close as on every other ending."""

    def __init__(self, session_id: uuid.UUID) -> None:
        super().__init__(session_id)
        self.session_id = session_id


async def logout(*, runtime: Runtime, viewer: TokenClaims, refresh_token: str) -> None:
    """End the session of the caller's refresh token: it can no longer be refreshed, and the
    access tokens of that session stop working at once."""
    await runtime.db.read(_log_out, viewer, settings=runtime.settings, refresh_token=refresh_token)


async def change_password(
    *, runtime: Runtime, client: Client, viewer: TokenClaims, change: PasswordChange
) -> None:
    """Set a new password once the current one is confirmed, and end every other session; the
    caller's own goes on."""
    user = await me(runtime=runtime, viewer=viewer)
    await _confirm_password(runtime, client, user, change.current_password)
    new_hash = await runtime.hasher.hash(change.new_password)
    await runtime.db.read(_set_password, viewer, current_hash=user.password_hash, new_hash=new_hash)


async def delete_account(
    *, runtime: Runtime, client: Client, viewer: TokenClaims, password: str
) -> None:
    """Delete the caller's account, once the password is confirmed, with everything of theirs."""
    user = await me(runtime=runtime, viewer=viewer)
    await _confirm_password(runtime, client, user, password)
    await runtime.db.read(_delete_user, viewer)


async def _confirm_password(runtime: Runtime, client: Client, user: User, password: str) -> None:
    """`AuthError` unless `password` is the user's: checked as a login checks it, and a wrong one
    counted as a failed login (per email and per address)."""
    throttles, email, address = runtime.throttles, user.email, client.address
    client.password_checks.take()
    await to_thread.run_sync(throttles.claim_login, email, address)
    if not await runtime.hasher.verify(password, user.password_hash):
        raise AuthError(INVALID_CREDENTIALS)
    await to_thread.run_sync(throttles.give_back_login, email, address)


async def me(*, runtime: Runtime, viewer: TokenClaims) -> User:
    """The account an access token speaks for, if it still exists."""
    return await runtime.db.read(user_of, viewer)


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


_users = User.metadata.tables[User.__tablename__]
_sessions = LoginSession.metadata.tables[LoginSession.__tablename__]


# Statements run on the ORM session (`Database.run`) name their parameters after no column of the
# table they write: SQLAlchemy would take such a name for a value to write.
_START_SESSION = (
    insert(_sessions)
    .from_select(
        ["user_id", "id", "created_at", "last_used_at", "user_agent"],
        select(_users.c.id)
        .add_columns(
            bindparam("session_id", type_=_sessions.c.id.type),
            bindparam("now", type_=_sessions.c.created_at.type),
            bindparam("now", type_=_sessions.c.last_used_at.type),
            bindparam("agent", type_=_sessions.c.user_agent.type),
        )
        .where(
            _users.c.id == bindparam("account_id"),
            _users.c.password_hash == bindparam("password_hash"),
        )
        .with_for_update(read=True),
    )
    .returning(_sessions.c.id)
)


def start_session(
    session: Session,
    /,
    *,
    settings: Settings,
    user: User,
    user_agent: str | None = None,
) -> Tokens:
    """A new session of `user` (whose password was just checked against `user.password_hash`)
    and its first tokens.

    The session is written only while the user still has that hash, reading the user's row with
    a share lock: a login that checked the old password as it was being changed either commits
    first, and the change then ends its session, or finds the new hash and is refused."""
    token_id = uuid.uuid4()
    values = {
        "session_id": token_id,
        "account_id": user.id,
        "password_hash": user.password_hash,
        "now": utcnow(),
        "agent": user_agent,
    }
    started = session.exec(_START_SESSION, params=values).first()
    if started is None:
        session.rollback()
        raise AuthError(INVALID_CREDENTIALS)
    return _add_tokens(session, settings, user.id, family_id=token_id, token_id=token_id)


def _add_tokens(
    session: Session,
    settings: Settings,
    user_id: uuid.UUID,
    *,
    family_id: uuid.UUID,
    token_id: uuid.UUID,
) -> Tokens:
    """Record the refresh token `token_id` in the chain `family_id`, commit, and answer it with a
    fresh access token of that session."""
    refresh_token, claims = encode_token(
        user_id=user_id,
        type="refresh",
        lifetime=timedelta(days=settings.refresh_token_days),
        key=settings.signing_key,
        token_id=token_id,
    )
    access_token, expires_in = _access_token(settings, user_id, family_id)
    session.add(
        RefreshToken(
            id=claims.token_id,
            user_id=user_id,
            family_id=family_id,
            created_at=claims.issued_at,  # with expires_at, enough to sign the same token again
            expires_at=claims.expires_at,
        )
    )
    session.commit()
    return Tokens(access_token=access_token, refresh_token=refresh_token, expires_in=expires_in)


def _rotate(session: Session, /, *, settings: Settings, refresh_token: str) -> Tokens:
    """Retire `refresh_token` and issue its successor in the same chain, while its session lives.

    Retiring is one conditional UPDATE that names the successor, so of several concurrent
    refreshes exactly one makes a successor. A token that was already retired is being replayed:
    within the grace after its rotation, and while its successor is unused, it answers that
    successor again (a double submit from a flaky network is not theft); otherwise the session
    ends.
    """
    claims = decode_token(refresh_token, key=settings.signing_key, expected_type="refresh")
    now = utcnow()
    values = {"token_id": claims.token_id, "account_id": claims.user_id, "now": now}
    if session.exec(USE_SESSION, params=values).first() is None:  # unknown, or ended
        session.rollback()
        raise AuthError(INVALID_REFRESH_TOKEN)
    successor_id = uuid.uuid4()
    retired = session.exec(
        update(RefreshToken)
        .where(
            col(RefreshToken.id) == claims.token_id,
            col(RefreshToken.revoked_at).is_(None),
            col(RefreshToken.expires_at) > now,
        )
        .values(revoked_at=now, replaced_by=successor_id)
        .returning(col(RefreshToken.family_id))
    ).first()
    if retired is None:
        return _answer_replay(session, settings, claims.token_id, now)
    return _add_tokens(
        session, settings, claims.user_id, family_id=retired.family_id, token_id=successor_id
    )


def _answer_replay(
    session: Session, settings: Settings, token_id: uuid.UUID, now: datetime
) -> Tokens:
    """A refresh token of a live session that could not be retired: answer its successor within
    the grace, or treat the replay as theft: `_Replayed`, and `refresh` ends the session.
    Raises `AuthError` when there is nothing to answer or end."""
    record = session.get(RefreshToken, token_id)
    if record is None or record.revoked_at is None:  # expired: nothing to end
        session.rollback()
        raise AuthError(INVALID_REFRESH_TOKEN)
    grace = timedelta(seconds=settings.refresh_reuse_grace_seconds)
    successor = session.get(RefreshToken, record.replaced_by) if record.replaced_by else None
    if (
        successor is not None
        and now - record.revoked_at <= grace
        and successor.revoked_at is None
        and successor.expires_at > now
    ):
        access_token, expires_in = _access_token(settings, successor.user_id, successor.family_id)
        again = TokenClaims(
            user_id=successor.user_id,
            token_id=successor.id,
            type="refresh",
            issued_at=successor.created_at,
            expires_at=successor.expires_at,
        )
        refresh_token = encode_claims(again, key=settings.signing_key)
        session.rollback()
        return Tokens(access_token=access_token, refresh_token=refresh_token, expires_in=expires_in)
    session.rollback()
    raise _Replayed(record.family_id)


def _log_out(
    runner: Runner, viewer: TokenClaims, /, *, settings: Settings, refresh_token: str
) -> None:
    """End the session of `refresh_token` (one of the caller's), at once: its access tokens stop
    working too."""
    claims = decode_token(refresh_token, key=settings.signing_key, expected_type="refresh")
    if claims.user_id != viewer.user_id:
        raise AuthError(INVALID_REFRESH_TOKEN)
    end_session_of_token(runner, viewer, claims.token_id)


_USER = select(*_users.c).where(_users.c.id == bindparam("user_id"), session_live())


_SET_PASSWORD = (
    update(_users)
    .where(
        _users.c.id == bindparam("user_id"),
        _users.c.password_hash == bindparam("current_hash"),
        session_live(),
    )
    .values(
        password_hash=bindparam("new_hash"),
        updated_at=bindparam("now", type_=_users.c.updated_at.type),
    )
    .returning(_users.c.id)
)


def _set_password(
    runner: Runner, viewer: TokenClaims, /, *, current_hash: str, new_hash: str
) -> None:
    """The new hash, if the password is still the one just confirmed, and the end of every
    other session: together or not at all."""
    now = utcnow()
    values = {**caller(viewer), "current_hash": current_hash, "new_hash": new_hash, "now": now}
    with runner.transaction():
        if runner.first(_SET_PASSWORD, values) is None:
            require_session(runner, viewer)
            raise AuthError(INVALID_CREDENTIALS)  # changed by another request meanwhile
        end_other_sessions(runner, viewer, now)


# The user's tasks, tags, trash, sessions, refresh tokens and idempotency keys go with the row:
# their foreign keys cascade, within this one statement.
_DELETE_USER = delete(_users).where(_users.c.id == bindparam("user_id"))


def _delete_user(runner: Runner, viewer: TokenClaims) -> None:
    """Delete the caller's user. Its sessions end first, in the same transaction: that checks
    the caller's own is live, and locks them as every ending does, before a refresh can."""
    with runner.transaction():
        end_all_sessions(runner, viewer)
        runner.all(_DELETE_USER, caller(viewer))


def user_of(runner: Runner, claims: TokenClaims) -> User:
    """The whole user an access token speaks for, while its session is live."""
    found = runner.first(_USER, caller(claims))
    if found is None:
        raise AuthError(SESSION_ENDED)
    return User.model_validate(dict(zip(_users.c.keys(), found, strict=True)))


def access_claims(settings: Settings, authorization: str | None) -> TokenClaims:
    """The claims of the access token in an `Authorization: Bearer ...` header, checked for
    signature, expiry and type (no database needed); `AuthError` for anything else."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Not authenticated")
    return decode_token(token.strip(), key=settings.signing_key, expected_type="access")
