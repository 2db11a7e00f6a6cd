"""The baseline: the task list served by bare Starlette and psycopg2, for `rest_list` to be measured
against. No ORM, no validation framework, nothing but what the answer needs.

It does the work the service does for `GET /api/tasks`: verify the HS256 access token with PyJWT
(claim `type` must be `access`), load the user row by id, count the user's tasks for
`X-Total-Count`, select the first 100 in the listing order, and answer the same JSON body and
headers. Database calls run in Starlette's thread pool, capped like the service's at one thread per
pooled connection.

Run by the benchmark as `uvicorn bench.baseline:create_app --factory`, with DATABASE_URL and
JWT_SECRET in the environment.
"""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import jwt
import orjson
import psycopg2.pool  # type: ignore[import-untyped]
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

USER_SQL = "SELECT id, email, name, password_hash, created_at, updated_at FROM users WHERE id = %s"
COUNT_SQL = "SELECT count(*) FROM tasks WHERE user_id = %s"
LIST_SQL = (
    "SELECT id, title, description, completed, created_at, updated_at FROM tasks"
    " WHERE user_id = %s ORDER BY completed ASC, created_at DESC, id DESC LIMIT 100"
)
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _unauthorized(detail: str) -> Response:
    return Response(
        orjson.dumps({"detail": detail}),
        status_code=401,
        media_type="application/json",
        headers={**HEADERS, "WWW-Authenticate": "Bearer"},
    )


def _user_id(request: Request, key: str) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        payload = jwt.decode(
            token, key, algorithms=["HS256"], options={"require": ["exp", "sub", "type", "jti"]}
        )
        if payload["type"] != "access":
            return None
        return str(uuid.UUID(payload["sub"]))
    except (jwt.InvalidTokenError, ValueError, TypeError, AttributeError):
        return None


def create_app() -> Starlette:
    url = os.environ["DATABASE_URL"]
    key = os.environ["JWT_SECRET"]
    pool_size = int(os.environ.get("POOL_SIZE", "5")) + int(os.environ.get("MAX_OVERFLOW", "10"))
    pools: list[Any] = []

    def list_tasks(request: Request) -> Response:
        user_id = _user_id(request, key)
        if user_id is None:
            return _unauthorized("Invalid token")
        pool = pools[0]
        connection = pool.getconn()
        try:
            if not connection.autocommit:  # a new connection: plain reads need no transaction
                connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(USER_SQL, (user_id,))
                if cursor.fetchone() is None:
                    return _unauthorized("User no longer exists")
                cursor.execute(COUNT_SQL, (user_id,))
                (total,) = cursor.fetchone()
                cursor.execute(LIST_SQL, (user_id,))
                rows = cursor.fetchall()
        finally:
            pool.putconn(connection)
        body = [
            {
                "id": task_id,
                "title": title,
                "description": description,
                "completed": completed,
                "created_at": created_at,
                "updated_at": updated_at,
            }
            for task_id, title, description, completed, created_at, updated_at in rows
        ]
        return Response(
            orjson.dumps(body, option=orjson.OPT_UTC_Z),
            media_type="application/json",
            headers={**HEADERS, "X-Total-Count": str(total)},
        )

    def health(_request: Request) -> Response:
        return Response(b'{"status":"healthy"}', media_type="application/json")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        pools.append(
            psycopg2.pool.ThreadedConnectionPool(
                1, pool_size, url, options="-c timezone=UTC", connect_timeout=5
            )
        )
        # One worker thread per pooled connection, as in the service: the pool never runs dry.
        anyio.to_thread.current_default_thread_limiter().total_tokens = pool_size
        yield
        pools[0].closeall()

    return Starlette(
        routes=[Route("/api/tasks", list_tasks), Route("/health", health)], lifespan=lifespan
    )
