"""Dependencies of the REST routes, named as types so a handler reads like its signature."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from app.database import session_scope
from app.errors import AuthError
from app.runtime import Runtime
from app.services import accounts
from models.user import User


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    with session_scope(runtime.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

bearer_scheme = HTTPBearer(auto_error=False, description="An access token from /api/auth/login.")


def get_current_user(
    session: SessionDep,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User:
    if credentials is None:
        raise AuthError("Not authenticated")
    return accounts.authenticate(
        session=session, settings=runtime.settings, access_token=credentials.credentials
    )


CurrentUser = Annotated[User, Depends(get_current_user)]
