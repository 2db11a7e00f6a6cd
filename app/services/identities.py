"""Identities: the users Better Auth tokens speak for (contract: "Front ends that sign in with
Better Auth").

- `sign_in`: the user of an accepted token's identity (issuer, `sub`), made at its first sight
  with the token's email and name, kept up to date by later tokens. An email that already has an
  account here is never taken over: its owner links the identity first (`link`).
- The viewer a sign-in gives has the identity's id as its `session_id`: `session_live()` finds
  the identity as it finds a session, so every statement run for the viewer checks that the
  identity (and so its user) still exists, at no statement of its own.
- Deleting a user remembers its identities' deletion (`end_identities`): a token issued until
  then is refused; one issued after it makes a new, empty account. `iat` is whole seconds, so a
  token issued in the second of the deletion counts as issued before it.
"""

import logging
import uuid
from datetime import datetime
from functools import cache

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Insert, bindparam, delete, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from app.better_auth import BetterAuthIdentity
from app.errors import AuthError, IdentityConflict
from app.events import SESSION_ENDED_KIND, announce
from app.prepared import Row
from app.security import INVALID_TOKEN, NO_PASSWORD, TokenClaims
from app.services import users
from app.services.sessions import require_session
from app.services.users import USERS
from app.statements import Runner
from models.identity import DeletedIdentity, Identity
from models.tables import table, upsert
from models.text import Name
from models.user import User
from models.utc import utcnow

EMAIL_TAKEN = "Email already registered; link this sign-in to the account first"
IDENTITY_TAKEN = "This sign-in already belongs to another account"
ISSUER_TAKEN = "This account already has a sign-in from this issuer"

logger = logging.getLogger(__name__)

IDENTITIES = table(Identity)
_deleted = table(DeletedIdentity)
_names: TypeAdapter[str] = TypeAdapter(Name)

_of_identity = (
    IDENTITIES.c.issuer == bindparam("issuer"),
    IDENTITIES.c.subject == bindparam("subject"),
)
_FIND = (
    select(IDENTITIES.c.id, IDENTITIES.c.user_id, USERS.c.email, USERS.c.name)
    .join_from(IDENTITIES, USERS, IDENTITIES.c.user_id == USERS.c.id)
    .where(*_of_identity)
)
_DELETED_SINCE = select(literal(True)).where(
    _deleted.c.issuer == bindparam("issuer"),
    _deleted.c.subject == bindparam("subject"),
    _deleted.c.deleted_at >= bindparam("issued_at", type_=_deleted.c.deleted_at.type),
)
_EMAIL_OF_ANOTHER = select(literal(True)).where(
    USERS.c.email == bindparam("email"), USERS.c.id != bindparam("user_id")
)
_KEEP_UP_TO_DATE = (
    update(USERS)
    .where(USERS.c.id == bindparam("user_id"))
    .values(
        email=bindparam("email"),
        name=bindparam("name"),
        updated_at=bindparam("now", type_=USERS.c.updated_at.type),
    )
)
_INSERT = insert(IDENTITIES).values(
    {column.name: bindparam(column.name) for column in IDENTITIES.c}
)
_HAS_ISSUER = select(literal(True)).where(
    IDENTITIES.c.user_id == bindparam("user_id"), IDENTITIES.c.issuer == bindparam("issuer")
)


def viewer(token: BetterAuthIdentity, *, identity_id: uuid.UUID, user_id: uuid.UUID) -> TokenClaims:
    """What the services are run for on behalf of a Better Auth token of `identity_id`."""
    return TokenClaims(
        user_id=user_id,
        token_id=identity_id,
        type="access",
        issued_at=token.issued_at,
        expires_at=token.expires_at,
        session_id=identity_id,
        issuer=token.issuer,
    )


def sign_in(runner: Runner, token: BetterAuthIdentity) -> TokenClaims:
    """The viewer of an accepted token: its identity's user, made at first sight. `AuthError`
    for a token issued before its identity's user was deleted; `IdentityConflict` when a first
    token's email belongs to another account.

    Two first tokens of one identity at once both try to make its user: one wins, and the
    other's INSERT breaks a unique constraint, or (when the winner committed between its two
    looks) it finds the email taken; either way it tries once more, finding the winner's. A
    real conflict is found again."""
    try:
        return _sign_in(runner, token)
    except (IntegrityError, IdentityConflict):
        return _sign_in(runner, token)


def _found(runner: Runner, token: BetterAuthIdentity) -> Row | None:
    """The identity of `token` with its user (`_FIND`'s row), or None; `AuthError` for a token
    issued before a deletion of its identity's user."""
    key = {"issuer": token.issuer, "subject": token.subject}
    if runner.first(_DELETED_SINCE, {**key, "issued_at": token.issued_at}) is not None:
        raise AuthError(INVALID_TOKEN)
    return runner.first(_FIND, key)


def _sign_in(runner: Runner, token: BetterAuthIdentity) -> TokenClaims:
    with runner.transaction():
        found = _found(runner, token)
        if found is None:
            identity_id, user_id = uuid.uuid4(), _first_user(runner, token)
            _insert_identity(runner, token, identity_id=identity_id, user_id=user_id)
        else:
            identity_id, user_id, email, name = found
            _keep_up_to_date(runner, token, user_id=user_id, email=email, name=name)
    return viewer(token, identity_id=identity_id, user_id=user_id)


def _first_user(runner: Runner, token: BetterAuthIdentity) -> uuid.UUID:
    """A new account for the identity of `token`, without a password."""
    if users.by_email(runner, email=token.email) is not None:
        raise IdentityConflict(EMAIL_TAKEN)
    user = User(email=token.email, name=_name(token), password_hash=NO_PASSWORD)
    users.insert_user(runner, user)
    return user.id


def _name(token: BetterAuthIdentity) -> str:
    """The `name` claim when it meets the name rules, else the email's local part."""
    for candidate in (token.name, token.email.rpartition("@")[0]):
        try:
            return _names.validate_python(candidate)
        except ValidationError:
            continue
    return token.email  # a normalised email is a valid name: at most 254 visible characters


def _keep_up_to_date(
    runner: Runner, token: BetterAuthIdentity, *, user_id: uuid.UUID, email: str, name: str
) -> None:
    """The token's email and name on the account, when they changed. An email that belongs to
    another account here stays theirs: this account keeps the one it has."""
    new_name = _name(token) if token.name is not None else name
    new_email = token.email
    if new_email != email and runner.first(
        _EMAIL_OF_ANOTHER, {"email": new_email, "user_id": user_id}
    ):
        logger.info("Better Auth email of user %s belongs to another account; kept", user_id)
        new_email = email
    if (new_email, new_name) != (email, name):
        values = {"user_id": user_id, "email": new_email, "name": new_name, "now": utcnow()}
        runner.all(_KEEP_UP_TO_DATE, values)


def _insert_identity(
    runner: Runner, token: BetterAuthIdentity, *, identity_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    identity = Identity(id=identity_id, user_id=user_id, issuer=token.issuer, subject=token.subject)
    runner.all(_INSERT, identity.model_dump())


def link(runner: Runner, viewer: TokenClaims, token: BetterAuthIdentity) -> None:
    """Give the identity of `token` to the caller's account. Linking it again changes nothing;
    `IdentityConflict` when it belongs to another account, or the account has another identity
    of its issuer."""
    with runner.transaction():
        require_session(runner, viewer)
        found = _found(runner, token)
        if found is not None:
            _, owner, *_ = found
            if owner != viewer.user_id:
                raise IdentityConflict(IDENTITY_TAKEN)
            return
        if runner.first(_HAS_ISSUER, {"user_id": viewer.user_id, "issuer": token.issuer}):
            raise IdentityConflict(ISSUER_TAKEN)
        try:
            _insert_identity(runner, token, identity_id=uuid.uuid4(), user_id=viewer.user_id)
        except IntegrityError:  # linked elsewhere at the same moment
            raise IdentityConflict(IDENTITY_TAKEN) from None


@cache
def _remember_deletion(dialect: str) -> Insert:
    """The deletion, as of `:now`, of the identities of the user `:user_id`."""
    now = bindparam("now", type_=_deleted.c.deleted_at.type)
    of_user = select(IDENTITIES.c.issuer, IDENTITIES.c.subject, now).where(
        IDENTITIES.c.user_id == bindparam("user_id")
    )
    into = upsert(dialect, _deleted).from_select(["issuer", "subject", "deleted_at"], of_user)
    return into.on_conflict_do_update(
        index_elements=[_deleted.c.issuer, _deleted.c.subject],
        set_={"deleted_at": into.excluded.deleted_at},
    )


_END_IDENTITIES = (
    delete(IDENTITIES)
    .where(IDENTITIES.c.user_id == bindparam("user_id"))
    .returning(
        IDENTITIES.c.id,
        # Its sockets close (4401), as a session's do when it ends.
        announce(
            SESSION_ENDED_KIND,
            IDENTITIES.c.user_id,
            IDENTITIES.c.id,
            0,
            bindparam("now", type_=_deleted.c.deleted_at.type),
        ),
    )
)


def end_identities(runner: Runner, viewer: TokenClaims, now: datetime) -> None:
    """End the identities of the caller's user as of `now`, in the transaction that deletes the
    user: their deletion remembered, their sockets told."""
    values = {"user_id": viewer.user_id, "now": now}
    runner.all(_remember_deletion(runner.dialect_name), values)
    runner.all(_END_IDENTITIES, values)
