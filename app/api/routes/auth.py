"""`/api/auth`: accounts and tokens."""

from fastapi import APIRouter, status

from app.api.deps import ClientDep, RuntimeDep, Viewer
from app.api.responses import errors
from app.api.routing import OrjsonRoute
from app.services import accounts
from models.responses import Message
from models.user import LoginRequest, RefreshRequest, SignupRequest, Tokens, UserPublic

router = APIRouter(prefix="/auth", tags=["auth"], route_class=OrjsonRoute)


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
    """Rotate a refresh token: the old one is retired; replaying it revokes its whole chain."""
    return await accounts.refresh(runtime=runtime, refresh_token=body.refresh_token)


@router.post("/logout", response_model=Message, responses=errors(400, 401, 413))
async def logout(body: RefreshRequest, viewer: Viewer, runtime: RuntimeDep) -> Message:
    """Revoke the refresh token; it can no longer be refreshed."""
    await accounts.logout(runtime=runtime, viewer=viewer, refresh_token=body.refresh_token)
    return Message(message="Logged out successfully")


@router.get("/me", response_model=UserPublic, responses=errors(401))
async def me(viewer: Viewer, runtime: RuntimeDep) -> UserPublic:
    """The account the access token belongs to."""
    return UserPublic.model_validate(await accounts.me(runtime=runtime, claims=viewer))
