"""Dependencies of the REST routes, named as types so a handler reads like its signature."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.database import Database
from app.runtime import Runtime
from app.security import TokenClaims
from app.throttle import Client


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_database(request: Request) -> Database:
    db: Database = request.app.state.runtime.db
    return db


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_client(request: Request, runtime: RuntimeDep) -> Client:
    return Client.arriving(
        request.client and request.client.host,
        runtime.settings,
        request.headers.get("user-agent"),
    )


ClientDep = Annotated[Client, Depends(get_client)]

bearer_scheme = HTTPBearer(auto_error=False, description="An access token from /api/auth/login.")


async def get_viewer(
    request: Request,
    _scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> TokenClaims:
    """Who the request's bearer token speaks for (`app.authentication`, as GraphQL reads it):
    the services check that its session or identity is still there, in their own statements.
    `bearer_scheme` is here for the OpenAPI document."""
    runtime: Runtime = request.app.state.runtime
    return await runtime.authenticator.viewer(request.headers.get("authorization"))


Viewer = Annotated[TokenClaims, Depends(get_viewer)]
