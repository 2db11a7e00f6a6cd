"""Accounts: signup, login, password change, account deletion, linking a Better Auth sign-in, and
the account an access token speaks for.

Both doors call the coroutines (`signup`, `signup_and_login`, `login`, `me`, `change_password`,
`delete_account`, `link_identity`), each with the runtime: bcrypt runs in the hasher's bounded
threads and each piece of database work in a worker thread (the plain functions below, handed to
`Database.run`), so nothing stalls the event loop and no connection is held while a hash runs.

A login, a password change and an account deletion check the password one way
(`_check_password`), counted by the same throttles. A login starts a session
(app/services/tokens.py); a password change ends every other one, a deletion all of them
(app/services/sessions.py) and its Better Auth identities (app/services/identities.py).
"""

from dataclasses import dataclass
from datetime import timedelta

from anyio import to_thread
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from app.errors import AuthError, Conflict, FieldError, InvalidInput, RateLimited
from app.runtime import Runtime
from app.security import NO_PASSWORD, TokenClaims
from app.services import identities, tokens, users
from app.services.sessions import (
    SESSION_ENDED,
    caller,
    end_all_sessions,
    end_other_sessions,
    require_session,
    session_live,
)
from app.services.users import USERS
from app.statements import Runner
from app.throttle import Client
from app.validation import invalid_input
from models.session import PasswordChange
from models.user import LoginRequest, SignupRequest, Tokens, User
from models.utc import utcnow

INVALID_CREDENTIALS = "Invalid credentials"
EMAIL_TAKEN = "Email already registered"
SIGNS_IN_WITH_BETTER_AUTH = "This account has no password; it signs in with Better Auth"
SIGN_IN_AGAIN = "Sign in again to delete the account"
RECENT_SIGN_IN = timedelta(minutes=5)


@dataclass(frozen=True)
class LoginResult:
    """What a successful login hands back."""

    user: User
    tokens: Tokens


def _email_taken() -> Conflict:
    return Conflict(EMAIL_TAKEN, [FieldError("email", "is already registered")])


def _insert_user(runner: Runner, /, *, data: SignupRequest, password_hash: str) -> User:
    user = User(email=data.email, name=data.name, password_hash=password_hash)
    try:
        users.insert_user(runner, user)
    except IntegrityError:  # the same email signed up at the same moment
        raise _email_taken() from None
    return user


async def signup(*, runtime: Runtime, client: Client, data: SignupRequest) -> User:
    """Every attempt that gets this far counts against the client's address, whether or not the
    email turns out to be free: both a new account and "already registered" are worth limiting."""
    client.password_checks.take()
    await to_thread.run_sync(runtime.throttles.signup_by_address.claim, client.address)
    if await runtime.db.run(users.by_email, email=data.email) is not None:
        raise _email_taken()
    password_hash = await runtime.hasher.hash(data.password)
    return await runtime.db.run(_insert_user, data=data, password_hash=password_hash)


async def login(*, runtime: Runtime, client: Client, credentials: LoginRequest) -> LoginResult:
    """Unknown emails and wrong passwords get the same error after the same bcrypt work."""
    refusals = runtime.metrics.login_refusals
    try:
        user = await _check_password(runtime, client, credentials.email, credentials.password)
    except AuthError:
        refusals.labels("credentials").inc()
        raise
    except RateLimited:
        refusals.labels("throttled").inc()
        raise
    return await _logged_in(runtime, client, user)


async def signup_and_login(*, runtime: Runtime, client: Client, data: SignupRequest) -> LoginResult:
    """A new account, logged in at once (GraphQL's `signup` answers both)."""
    user = await signup(runtime=runtime, client=client, data=data)
    return await _logged_in(runtime, client, user)


async def _logged_in(runtime: Runtime, client: Client, user: User) -> LoginResult:
    """`user` with a fresh pair of tokens: a new session, described by the client's user agent."""
    issued = await runtime.db.run(
        tokens.start_session, settings=runtime.settings, user=user, user_agent=client.user_agent
    )
    if issued is None:  # the password changed since it was checked
        raise AuthError(INVALID_CREDENTIALS)
    return LoginResult(user=user, tokens=issued)


async def change_password(
    *, runtime: Runtime, client: Client, viewer: TokenClaims, change: PasswordChange
) -> None:
    """Set a new password once the current one is confirmed, and end every other session; the
    caller's own goes on."""
    user = await me(runtime=runtime, viewer=viewer)
    if user.password_hash == NO_PASSWORD:
        no_password = FieldError("current_password", "this account has none")
        raise InvalidInput(SIGNS_IN_WITH_BETTER_AUTH, [no_password])
    await _check_password(runtime, client, user, change.current_password)
    new_hash = await runtime.hasher.hash(change.new_password)
    await runtime.db.run(_set_password, viewer, current_hash=user.password_hash, new_hash=new_hash)


async def delete_account(
    *, runtime: Runtime, client: Client, viewer: TokenClaims, password: str | None
) -> None:
    """Delete the caller's account, with everything of theirs, once the caller proves it is
    them: by a Better Auth sign-in of the last `RECENT_SIGN_IN` (a token that could have been
    taken long ago proves less), or else with the password, if the account has one."""
    user = await me(runtime=runtime, viewer=viewer)
    signed_in_lately = viewer.issuer is not None and utcnow() - viewer.issued_at <= RECENT_SIGN_IN
    if not signed_in_lately:
        if viewer.issuer is not None and (password is None or user.password_hash == NO_PASSWORD):
            raise AuthError(SIGN_IN_AGAIN)
        if password is None:
            raise invalid_input([FieldError("password", "Field required")])
        await _check_password(runtime, client, user, password)
    await runtime.db.run(_delete_user, viewer)


async def link_identity(*, runtime: Runtime, viewer: TokenClaims, token: str) -> User:
    """Give the Better Auth identity of `token` to the caller's account (app/services/
    identities.py), and answer the account."""
    identity = await runtime.authenticator.better_auth_identity(token)
    await runtime.db.run(identities.link, viewer, identity)
    return await me(runtime=runtime, viewer=viewer)


async def _check_password(
    runtime: Runtime, client: Client, account: User | str, password: str
) -> User:
    """The user, once `password` is confirmed as theirs: `account` itself, or the user of the
    email `account` (looked up here). `AuthError` otherwise, for an unknown email after the same
    bcrypt work as for a wrong password.

    The check takes its place in the login throttles (per email and per address) before anything
    else, and only a wrong password keeps it: a check that fails before the password is checked
    (the database away) counts nothing, nor does a right password.
    """
    email = account if isinstance(account, str) else account.email
    throttles, address = runtime.throttles, client.address
    client.password_checks.take()
    await to_thread.run_sync(throttles.claim_login, email, address)
    try:
        user = (
            await runtime.db.run(users.by_email, email=email)
            if isinstance(account, str)
            else account
        )
    except BaseException:  # no password was checked: nothing to count
        await to_thread.run_sync(throttles.give_back_login, email, address)
        raise
    if not await runtime.hasher.verify(password, user.password_hash if user else None):
        raise AuthError(INVALID_CREDENTIALS)
    assert user is not None  # verify() is False without a hash
    await to_thread.run_sync(throttles.give_back_login, email, address)
    return user


async def me(*, runtime: Runtime, viewer: TokenClaims) -> User:
    """The account an access token speaks for, if it still exists."""
    return await runtime.db.run(user_of, viewer)


_USER = select(*USERS.c).where(USERS.c.id == bindparam("user_id"), session_live())


def user_of(runner: Runner, claims: TokenClaims) -> User:
    """The whole user an access token speaks for, while its session is live."""
    found = runner.first(_USER, caller(claims))
    if found is None:
        raise AuthError(SESSION_ENDED)
    return users.from_row(found)


_SET_PASSWORD = (
    update(USERS)
    .where(
        USERS.c.id == bindparam("user_id"),
        USERS.c.password_hash == bindparam("current_hash"),
        session_live(),
    )
    .values(
        password_hash=bindparam("new_hash"),
        updated_at=bindparam("now", type_=USERS.c.updated_at.type),
    )
    .returning(USERS.c.id)
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
_DELETE_USER = delete(USERS).where(USERS.c.id == bindparam("user_id"))


def _delete_user(runner: Runner, viewer: TokenClaims) -> None:
    """Delete the caller's user. Its sessions end first, in the same transaction: that checks
    the caller's own is live, and locks them as every ending does, before a refresh can. Its
    identities' deletion is remembered, so their earlier tokens cannot bring it back."""
    now = utcnow()
    with runner.transaction():
        end_all_sessions(runner, viewer, now)
        identities.end_identities(runner, viewer, now)
        runner.all(_DELETE_USER, caller(viewer))
