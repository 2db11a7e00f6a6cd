"""`/api/auth`: accounts and tokens."""

from fastapi import APIRouter, status

from app.api.deps import CurrentUser, RuntimeDep
from app.api.responses import errors
from app.api.routing import OrjsonRoute
from app.services import accounts
from models.user import LoginRequest, Message, RefreshRequest, SignupRequest, Tokens, UserPublic

router = APIRouter(prefix="/auth", tags=["auth"], route_class=OrjsonRoute)


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    responses=errors(400, 413),
)
async def signup(data: SignupRequest, runtime: RuntimeDep) -> UserPublic:
    """Create an account. The email is stored in lower case and must not be registered yet."""
    user = await accounts.signup(db=runtime.db, hasher=runtime.hasher, data=data)
    return UserPublic.model_validate(user)


@router.post("/login", response_model=Tokens, responses=errors(400, 401, 413, 429))
async def login(credentials: LoginRequest, runtime: RuntimeDep) -> Tokens:
    """Exchange email and password for an access token (15 min) and a refresh token (7 days).

    Failed attempts are throttled per email: past the limit every attempt, even with the right
    password, answers 429 with `Retry-After`.
    """
    result = await accounts.login(
        db=runtime.db,
        hasher=runtime.hasher,
        throttle=runtime.throttle,
        settings=runtime.settings,
        credentials=credentials,
    )
    return result.tokens


@router.post("/refresh", response_model=Tokens, responses=errors(400, 401, 413))
async def refresh(body: RefreshRequest, runtime: RuntimeDep) -> Tokens:
    """Rotate a refresh token: the old one is retired; replaying it revokes its whole chain."""
    return await runtime.db.run(
        accounts.refresh, settings=runtime.settings, refresh_token=body.refresh_token
    )


@router.post("/logout", response_model=Message, responses=errors(400, 401, 413))
async def logout(body: RefreshRequest, user: CurrentUser, runtime: RuntimeDep) -> Message:
    """Revoke the refresh token; it can no longer be refreshed."""
    await runtime.db.run(
        accounts.logout, settings=runtime.settings, user=user, refresh_token=body.refresh_token
    )
    return Message(message="Logged out successfully")


@router.get("/me", response_model=UserPublic, responses=errors(401))
async def me(user: CurrentUser) -> UserPublic:
    """The account the access token belongs to."""
    return UserPublic.model_validate(user)
