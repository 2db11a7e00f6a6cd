"""Accounts and tokens: signup, login, refresh rotation with reuse detection, logout.

Both doors call the coroutines (`signup`, `signup_and_login`, `login`, `refresh`, `logout`, `me`),
each with the runtime: bcrypt runs in the hasher's bounded threads and each piece of database work
in a worker thread (the plain functions below, handed to `Database.run` or `Database.read`), so
nothing stalls the event loop and no connection is held while a hash runs.

A service run on an access token's behalf refuses it once its session has ended (logout, a
revoked chain, a deleted user: `SESSION_ENDED`), in its own statement where it can
(`session_live`), else with `require_session`: an ended session stops working at once, on every
door and every instance.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from anyio import to_thread
from sqlalchemy import Exists, bindparam, exists, literal, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.errors import AuthError, Conflict, FieldError
from app.runtime import Runtime
from app.security import TokenClaims, decode_token, encode_claims, encode_token
from app.settings import Settings
from app.statements import Runner
from app.throttle import Client
from models.token import RefreshToken
from models.user import LoginRequest, SignupRequest, Tokens, User
from models.utc import utcnow

INVALID_CREDENTIALS = "Invalid credentials"
EMAIL_TAKEN = "Email already registered"
INVALID_REFRESH_TOKEN = "Invalid or revoked refresh token"  # noqa: S105 (a message)
SESSION_ENDED = "Session has ended"


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
    return await _logged_in(runtime, user)


async def signup_and_login(*, runtime: Runtime, client: Client, data: SignupRequest) -> LoginResult:
    """A new account, logged in at once (GraphQL's `signup` answers both)."""
    return await _logged_in(runtime, await signup(runtime=runtime, client=client, data=data))


async def _logged_in(runtime: Runtime, user: User) -> LoginResult:
    """`user` with a fresh pair of tokens (a new refresh chain)."""
    tokens = await runtime.db.run(issue_tokens, settings=runtime.settings, user_id=user.id)
    return LoginResult(user=user, tokens=tokens)


async def refresh(*, runtime: Runtime, refresh_token: str) -> Tokens:
    """Rotate a refresh token: the old one is retired; replaying it revokes its whole chain."""
    return await runtime.db.run(_rotate, settings=runtime.settings, refresh_token=refresh_token)


async def logout(*, runtime: Runtime, viewer: TokenClaims, refresh_token: str) -> None:
    """End the session of the caller's refresh token: it can no longer be refreshed, and the
    access tokens of that session stop working at once."""
    await runtime.db.read(_revoke, viewer, settings=runtime.settings, refresh_token=refresh_token)


async def me(*, runtime: Runtime, claims: TokenClaims) -> User:
    """The account an access token speaks for, if it still exists."""
    return await runtime.db.read(user_of, claims)


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


def issue_tokens(
    session: Session,
    /,
    *,
    settings: Settings,
    user_id: uuid.UUID,
    family_id: uuid.UUID | None = None,
    refresh_token_id: uuid.UUID | None = None,
) -> Tokens:
    """A refresh token recorded in `family_id` (a new chain, so a new session, if None) and a
    fresh access token of that session."""
    refresh_token, claims = encode_token(
        user_id=user_id,
        type="refresh",
        lifetime=timedelta(days=settings.refresh_token_days),
        key=settings.signing_key,
        token_id=refresh_token_id,
    )
    family_id = family_id or claims.token_id
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
    """Retire `refresh_token` and issue its successor in the same chain.

    Retiring is one conditional UPDATE that names the successor, so of several concurrent
    refreshes exactly one makes a successor. A token that was already retired is being replayed:
    within the grace after its rotation, and while its successor is unused, it answers that
    successor again (a double submit from a flaky network is not theft); otherwise the whole
    chain is revoked.
    """
    claims = decode_token(refresh_token, key=settings.signing_key, expected_type="refresh")
    now = utcnow()
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
    return issue_tokens(
        session,
        settings=settings,
        user_id=claims.user_id,
        family_id=retired.family_id,
        refresh_token_id=successor_id,
    )


def _answer_replay(
    session: Session, settings: Settings, token_id: uuid.UUID, now: datetime
) -> Tokens:
    """A refresh token that could not be retired: answer its successor within the grace, or
    treat the replay as theft and revoke the chain. Raises `AuthError` unless it answers."""
    record = session.get(RefreshToken, token_id)
    if record is None or record.revoked_at is None:  # unknown, or expired: nothing to revoke
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
    session.exec(
        update(RefreshToken)
        .where(
            col(RefreshToken.family_id) == record.family_id,
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    )
    session.commit()
    raise AuthError(INVALID_REFRESH_TOKEN)


_refresh_tokens = RefreshToken.metadata.tables[RefreshToken.__tablename__]
_chain_of_token = (
    select(_refresh_tokens.c.family_id)
    .where(_refresh_tokens.c.id == bindparam("token_id"))
    .scalar_subquery()
)
# Ends the session: every unrevoked token of the refresh token's chain.
_REVOKE = (
    update(_refresh_tokens)
    .where(_refresh_tokens.c.family_id == _chain_of_token, _refresh_tokens.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("now", type_=_refresh_tokens.c.revoked_at.type))
    .returning(_refresh_tokens.c.id)
)


def _revoke(
    runner: Runner, viewer: TokenClaims, /, *, settings: Settings, refresh_token: str
) -> None:
    """End the session of `refresh_token` (one of the caller's), at once: its access tokens stop
    working too. One UPDATE; only when it revoked nothing is the caller's session looked up."""
    claims = decode_token(refresh_token, key=settings.signing_key, expected_type="refresh")
    if claims.user_id != viewer.user_id:
        raise AuthError(INVALID_REFRESH_TOKEN)
    if runner.first(_REVOKE, {"token_id": claims.token_id, "now": utcnow()}) is None:
        require_session(runner, viewer)


_users = User.metadata.tables[User.__tablename__]


def session_live() -> Exists:
    """True while the session bound to `:session_id`, of the user `:user_id`, is live: a refresh
    token of its chain is unrevoked. Tokens go with their user, so it is false for a user who no
    longer exists, too. Statements made on an access token's behalf carry it, so that checking
    the session costs no statement of its own (the chain's index finds it)."""
    return exists().where(
        _refresh_tokens.c.family_id == bindparam("session_id"),
        _refresh_tokens.c.user_id == bindparam("user_id"),
        _refresh_tokens.c.revoked_at.is_(None),
    )


def caller(viewer: TokenClaims) -> dict[str, object]:
    """The values `session_live()` binds."""
    return {"user_id": viewer.user_id, "session_id": viewer.session_id}


_SESSION_LIVE = select(literal(True)).where(session_live())
_USER = select(*_users.c).where(_users.c.id == bindparam("user_id"), session_live())


def require_session(runner: Runner, viewer: TokenClaims) -> None:
    """`AuthError` when the session of an access token has ended. For the services whose
    statement found nothing: was it the row, or the session?"""
    if runner.scalar(_SESSION_LIVE, caller(viewer)) is None:
        raise AuthError(SESSION_ENDED)


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
