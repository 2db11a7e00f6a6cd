"""The GraphQL door's HTTP mount: Strawberry's router at `/graphql`, with JSON errors and safe
body decoding."""

from typing import Any

import orjson
from cross_web import HTTPException
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocket
from strawberry.fastapi import GraphQLRouter
from strawberry.types.unset import UNSET

from app.settings import Settings
from resolvers.context import Context, get_context
from resolvers.schema import build_schema


class TodoGraphQLRouter(GraphQLRouter[Context, None]):
    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(settings),
            path="/graphql",
            context_getter=get_context,
            graphql_ide="graphiql" if settings.graphql_ide_enabled else None,
            multipart_uploads_enabled=False,
            include_in_schema=False,
        )

    def decode_json(self, data: str | bytes) -> object:
        """orjson refuses invalid UTF-8 and nesting past 1024 levels with a `JSONDecodeError`
        (a 400); the standard decoder would raise `RecursionError` (a 500) on deep nesting.
        A batch is checked here, before any of it runs, against the schema's own batch limit:
        Strawberry checks the same number later with a bare "Too many operations"; this answer
        says what to fix."""
        decoded = orjson.loads(data)
        if not isinstance(decoded, dict | list):
            raise HTTPException(
                400, "The request body must be a JSON object, or an array of them for a batch"
            )
        if isinstance(decoded, list):
            batching = self.schema.config.batching_config  # set by `build_schema`
            most = batching["max_operations"] if batching else 1
            if len(decoded) > most:
                raise HTTPException(
                    400,
                    f"A batch may hold at most {most} operations; this one holds {len(decoded)}",
                )
            if not all(isinstance(operation, dict) for operation in decoded):
                raise HTTPException(400, "Each operation of a batch must be a JSON object")
        return decoded

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def run(  # type: ignore[override]  # one signature for the parent's two overloads
        self,
        request: Request | WebSocket,
        context: Context | None = UNSET,
        root_value: None = UNSET,
    ) -> Response:
        """Requests refused before execution get a GraphQL-shaped JSON error, not plain text.

        The schema has no subscriptions, so a WebSocket upgrade is refused (HTTP 403) before it
        is accepted.
        """
        if isinstance(request, WebSocket):
            return await self.reject_websocket(request)  # type: ignore[return-value]
        try:
            return await super().run(request, context, root_value)  # type: ignore[arg-type]
        except HTTPException as error:
            body: dict[str, Any] = {
                "errors": [{"message": error.reason, "extensions": {"code": "BAD_REQUEST"}}]
            }
            return JSONResponse(body, status_code=error.status_code)
