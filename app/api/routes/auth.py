"""`/api/auth`: accounts and tokens."""

import uuid

from fastapi import APIRouter, status

from app.api.deps import ClientDep, DatabaseDep, RuntimeDep, Viewer
from app.api.responses import errors
from app.api.routing import OrjsonRoute
from app.services import accounts, tokens
from app.services import sessions as session_service
from models.identity import IdentityLink
from models.responses import Message
from models.session import AccountDeletion, PasswordChange, SessionPublic
from models.user import LoginRequest, RefreshRequest, SignupRequest, Tokens, UserPublic

router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=OrjsonRoute)


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    responses=errors(400, 413, 429),
)
async def signup(data: SignupRequest, runtime: RuntimeDep, client: ClientDep) -> UserPublic:
    """Create an account. The email is stored normalised and must not be registered yet.

    Sign-ups are limited per client address: past the limit the answer is 429 with `Retry-After`.
    """
    user = await accounts.signup(runtime=runtime, client=client, data=data)
    return UserPublic.model_validate(user)


@router.post("/login", response_model=Tokens, responses=errors(400, 401, 413, 429))
async def login(credentials: LoginRequest, runtime: RuntimeDep, client: ClientDep) -> Tokens:
    """Exchange email and password for a short-lived access token (`expires_in` seconds) and a
    long-lived refresh token (settings ACCESS_TOKEN_MINUTES and REFRESH_TOKEN_DAYS).

    Failed attempts are throttled per email and per client address: past either limit every
    attempt, even with the right password, answers 429 with `Retry-After`. Successful and refused
    attempts count nothing.
    """
    result = await accounts.login(runtime=runtime, client=client, credentials=credentials)
    return result.tokens


@router.post("/refresh", response_model=Tokens, responses=errors(400, 401, 413))
async def refresh(body: RefreshRequest, runtime: RuntimeDep) -> Tokens:
    """Rotate a refresh token: the old one is retired; replaying it ends its session."""
    return await tokens.refresh(runtime=runtime, refresh_token=body.refresh_token)


@router.post("/logout", response_model=Message, responses=errors(400, 401, 413))
async def logout(body: RefreshRequest, viewer: Viewer, runtime: RuntimeDep) -> Message:
    """Revoke the refresh token; it can no longer be refreshed."""
    await tokens.logout(runtime=runtime, viewer=viewer, refresh_token=body.refresh_token)
    return Message(message="Logged out successfully")


@router.get("/me", response_model=UserPublic, responses=errors(401))
async def me(viewer: Viewer, runtime: RuntimeDep) -> UserPublic:
    """The account the access token belongs to."""
    return UserPublic.model_validate(await accounts.me(runtime=runtime, viewer=viewer))


@router.get("/sessions", response_model=list[SessionPublic], responses=errors(401))
async def list_sessions(viewer: Viewer, db: DatabaseDep) -> list[SessionPublic]:
    """Where the account is signed in: its live sessions (one per login), newest first. A
    session's `last_used_at` is when it last got tokens (its login or latest refresh)."""
    return await db.run(session_service.live_sessions, viewer)


@router.delete("/sessions/{session_id}", response_model=Message, responses=errors(400, 401, 404))
async def revoke_session(session_id: uuid.UUID, viewer: Viewer, db: DatabaseDep) -> Message:
    """End one of the account's sessions (the caller's own included): its refresh token can no
    longer be refreshed and its access tokens stop working at once."""
    await db.run(session_service.end_session, viewer, session_id=session_id)
    return Message(message="Session revoked")


@router.post("/password", response_model=Message, responses=errors(400, 401, 413, 429))
async def change_password(
    change: PasswordChange, viewer: Viewer, runtime: RuntimeDep, client: ClientDep
) -> Message:
    """Change the password. A wrong current password is 401 and counts as a failed login;
    every other session ends, the caller's goes on."""
    await accounts.change_password(runtime=runtime, client=client, viewer=viewer, change=change)
    return Message(message="Password changed")


@router.delete("/me", response_model=Message, responses=errors(400, 401, 413, 429))
async def delete_account(
    viewer: Viewer, runtime: RuntimeDep, client: ClientDep, body: AccountDeletion | None = None
) -> Message:
    """Delete the account and everything of it (tasks, tags, trash, sessions), at once and for
    good, once the password is confirmed. A wrong password is 401 and counts as a failed login.
    With a Better Auth token issued in the last 5 minutes no password is needed (nor a body)."""
    password = body.password if body is not None else None
    await accounts.delete_account(runtime=runtime, client=client, viewer=viewer, password=password)
    return Message(message="Account deleted")


@router.post("/identities", response_model=UserPublic, responses=errors(400, 401, 409, 413))
async def link_identity(body: IdentityLink, viewer: Viewer, runtime: RuntimeDep) -> UserPublic:
    """Link a Better Auth sign-in to this account: `token` is a token of its `jwt` plugin. From
    then on that sign-in reaches this account. Linking it again changes nothing; 409 when it
    belongs to another account, or this account has a sign-in from its issuer already."""
    user = await accounts.link_identity(runtime=runtime, viewer=viewer, token=body.token)
    return UserPublic.model_validate(user)
