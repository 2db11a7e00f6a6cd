"""Dependencies of the REST routes, named as types so a handler reads like its signature."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.database import Database
from app.errors import AuthError
from app.runtime import Runtime
from app.services import accounts
from app.throttle import Client
from models.user import User


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_database(runtime: RuntimeDep) -> Database:
    return runtime.db


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_client(request: Request, runtime: RuntimeDep) -> Client:
    return Client.arriving(request.client and request.client.host, runtime.settings)


ClientDep = Annotated[Client, Depends(get_client)]

bearer_scheme = HTTPBearer(auto_error=False, description="An access token from /api/auth/login.")


async def get_current_user(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User:
    if credentials is None:
        raise AuthError("Not authenticated")
    return await runtime.db.run(
        accounts.authenticate, settings=runtime.settings, access_token=credentials.credentials
    )


CurrentUser = Annotated[User, Depends(get_current_user)]
