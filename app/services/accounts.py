"""Accounts: signup, login, password change, account deletion, and the account an access token
speaks for.

Both doors call the coroutines (`signup`, `signup_and_login`, `login`, `me`, `change_password`,
`delete_account`), each with the runtime: bcrypt runs in the hasher's bounded threads and each
piece of database work in a worker thread (the plain functions below, handed to `Database.run`),
so nothing stalls the event loop and no connection is held while a hash runs.

A login, a password change and an account deletion check the password one way
(`_check_password`), counted by the same throttles. A login starts a session
(app/services/tokens.py); a password change ends every other one, a deletion all of them
(app/services/sessions.py).
"""

from dataclasses import dataclass

from anyio import to_thread
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.errors import AuthError, Conflict, FieldError
from app.runtime import Runtime
from app.security import TokenClaims
from app.services import tokens
from app.services.sessions import (
    SESSION_ENDED,
    caller,
    end_all_sessions,
    end_other_sessions,
    require_session,
    session_live,
)
from app.statements import Row, Runner
from app.throttle import Client
from models.session import PasswordChange
from models.tables import table
from models.user import LoginRequest, SignupRequest, Tokens, User
from models.utc import utcnow

INVALID_CREDENTIALS = "Invalid credentials"
EMAIL_TAKEN = "Email already registered"

_users = table(User)


@dataclass(frozen=True)
class LoginResult:
    """What a successful login hands back."""

    user: User
    tokens: Tokens


def _email_taken() -> Conflict:
    return Conflict(EMAIL_TAKEN, [FieldError("email", "is already registered")])


def _user(row: Row) -> User:
    return User.model_validate(dict(zip(_users.c.keys(), row, strict=True)))


_USER_BY_EMAIL = select(*_users.c).where(_users.c.email == bindparam("email"))


def find_user_by_email(runner: Runner, /, *, email: str) -> User | None:
    found = runner.first(_USER_BY_EMAIL, {"email": email})
    return _user(found) if found is not None else None


_INSERT_USER = insert(_users).values({column.name: bindparam(column.name) for column in _users.c})


def _insert_user(runner: Runner, /, *, data: SignupRequest, password_hash: str) -> User:
    user = User(email=data.email, name=data.name, password_hash=password_hash)
    try:
        runner.all(_INSERT_USER, user.model_dump())
    except IntegrityError:  # the same email signed up at the same moment
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
    """Unknown emails and wrong passwords get the same error after the same bcrypt work."""
    user = await _check_password(runtime, client, credentials.email, credentials.password)
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
    await _check_password(runtime, client, user, change.current_password)
    new_hash = await runtime.hasher.hash(change.new_password)
    await runtime.db.run(_set_password, viewer, current_hash=user.password_hash, new_hash=new_hash)


async def delete_account(
    *, runtime: Runtime, client: Client, viewer: TokenClaims, password: str
) -> None:
    """Delete the caller's account, once the password is confirmed, with everything of theirs."""
    user = await me(runtime=runtime, viewer=viewer)
    await _check_password(runtime, client, user, password)
    await runtime.db.run(_delete_user, viewer)


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
            await runtime.db.run(find_user_by_email, email=email)
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


_USER = select(*_users.c).where(_users.c.id == bindparam("user_id"), session_live())


def user_of(runner: Runner, claims: TokenClaims) -> User:
    """The whole user an access token speaks for, while its session is live."""
    found = runner.first(_USER, caller(claims))
    if found is None:
        raise AuthError(SESSION_ENDED)
    return _user(found)


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
