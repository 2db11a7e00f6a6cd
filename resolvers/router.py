"""The GraphQL door's HTTP mount: Strawberry's router at `/graphql`, with JSON errors, safe
body decoding and persisted queries."""

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from fastapi import Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from graphql import DocumentNode
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.execution import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from app.docs import documentation_page
from app.settings import Settings
from models.task import MAX_PAGE_SIZE
from resolvers import sockets
from resolvers.context import Context, get_context
from resolvers.direct import DirectQueries, plain_queries
from resolvers.document_limits import RequestLimits
from resolvers.media_types import GRAPHQL_RESPONSE_JSON, is_request_error, prefers_graphql_response
from resolvers.operation_metrics import observed
from resolvers.parser_cache import parse_document
from resolvers.persisted_queries import PersistedQueries, PersistedQueryNotFound, RequestRefused
from resolvers.schema import build_schema

T = TypeVar("T")
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "query": (str,),
    "operationName": (str,),
    "variables": (dict,),
    "extensions": (dict,),
}


def _malformed(operation: object) -> str | None:
    """What is wrong with a batched operation's JSON, or None. Strawberry checks these types for
    a single operation only; in a batch a `query` of 5 reached the executor (a 500's message)."""
    if not isinstance(operation, dict):
        return "it must be a JSON object"
    for name, types in _FIELD_TYPES.items():
        value = operation.get(name)
        if value is not None and not isinstance(value, types):
            kind = "a string" if types == (str,) else "an object"
            return f"`{name}` must be {kind} or null, if provided"
    return None


class TodoGraphQLRouter(GraphQLRouter[Context, None]):
    graphql_transport_ws_handler_class = sockets.LiveSocketHandler
    websocket_adapter_class = sockets.LiveSocketAdapter

    def __init__(self, settings: Settings) -> None:
        schema = build_schema(settings)
        super().__init__(
            schema,
            path="/graphql",
            context_getter=get_context,
            graphql_ide="graphiql" if settings.graphql_ide_enabled else None,
            multipart_uploads_enabled=False,
            include_in_schema=False,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            connection_init_wait_timeout=sockets.CONNECTION_INIT_TIMEOUT,
            max_subscriptions_per_connection=sockets.SUBSCRIPTIONS_PER_SOCKET,
            allowed_origins=settings.cors_origins,  # besides the service's own
        )
        self.observe = settings.observe_requests
        self.persisted_queries = PersistedQueries(settings)
        self.direct = DirectQueries(schema)
        self._replace_http_routes("/graphql")
        max_tokens = settings.graphql_max_tokens
        self.limits = RequestLimits(
            schema._schema,
            max_page=MAX_PAGE_SIZE,
            max_cost=settings.graphql_max_cost,
            max_mutations=settings.graphql_max_mutations,
            parse=lambda query: parse_document(query, max_tokens),
        )

    def _replace_http_routes(self, path: str) -> None:
        """Strawberry's GET and POST routes get their context through FastAPI's dependency
        injection (our `get_context` wrapped in a dependency of four more parameters), which
        cost about 0.18 ms of CPU a request (measured in process, side by side, 9 runs of 2,500
        `gql_list` requests each way: medians 2.48 ms with it, 2.30 without). `get_context` is
        all a request needs: one route for both methods calls it directly, and the context's
        `request`, `response` and `background_tasks`, which nothing here reads, stay unset."""
        self.routes[:] = [
            route
            for route in self.routes
            if not (isinstance(route, APIRoute) and {"GET", "POST"} & (route.methods or set()))
        ]
        self._http_route = Route(path, self._http, methods=["GET", "POST"], include_in_schema=False)
        self.routes.append(self._http_route)

    async def _http(self, request: Request) -> Response:
        # FastAPI names the route a request took (`scope["route"]`) for its own routes only:
        # this one names itself, for the request's metrics and access line (`app.access`).
        request.scope["route"] = self._http_route
        if request.method == "HEAD":  # which Starlette routes beside GET: refused, as before
            raise StarletteHTTPException(405, headers={"Allow": "GET, POST"})
        return await self.run(request, await get_context(request), root_value=None)

    async def get_sub_response(self, request: Request) -> Response:
        """A response of its own for each request, whose headers and status Strawberry merges
        into the answer (Strawberry's FastAPI view keeps one on the router, shared by every
        request in flight, and only its own routes set it)."""
        response = Response()
        del response.headers["content-length"]
        response.status_code = None  # type: ignore[assignment]  # "not set": Strawberry's 200
        return response

    async def on_ws_connect(self, context: Context) -> UnsetType:
        await sockets.connect(context)
        return UnsetType()  # a `connection_ack` without payload (the one UNSET)

    def decode_json(self, data: str | bytes) -> object:
        """orjson refuses invalid UTF-8 and nesting past 1024 levels with a `JSONDecodeError`
        (a 400); the standard decoder would raise `RecursionError` (a 500) on deep nesting.
        A batch is checked here, before any of it runs, against the schema's own batch limit:
        Strawberry checks the same number later with a bare "Too many operations"; this answer
        says what to fix."""
        decoded = orjson.loads(data)
        if not isinstance(decoded, dict | list):
            raise RequestRefused(
                "The request body must be a JSON object, or an array of them for a batch"
            )
        if isinstance(decoded, list):
            batching = self.schema.config.batching_config  # set by `build_schema`
            most = batching["max_operations"] if batching else 1
            if not decoded:
                raise RequestRefused("A batch must hold at least one operation", whole_batch=True)
            if len(decoded) > most:
                raise RequestRefused(
                    f"A batch may hold at most {most} operations; this one holds {len(decoded)}",
                    whole_batch=True,
                )
            for number, operation in enumerate(decoded, start=1):
                if reason := _malformed(operation):
                    raise RequestRefused(
                        f"Operation {number} of the batch: {reason}", whole_batch=True
                    )
        return decoded

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """A GET that names a persisted query by hash is an operation, not a browser."""
        return "extensions" not in request.query_params and super().should_render_graphql_ide(
            request
        )

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """GraphiQL from this service's own files, under the documentation pages' CSP, instead of
        Strawberry's page (public CDNs and an inline script)."""
        return documentation_page(request, "graphiql")

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def run(  # type: ignore[override]  # one signature for the parent's two overloads
        self,
        request: Request | WebSocket,
        context: Context | None = UNSET,
        root_value: None = UNSET,
    ) -> Response:
        """Requests refused before execution get a GraphQL-shaped JSON error, not plain text.
        A WebSocket upgrade without `graphql-transport-ws` is refused before it is accepted
        (HTTP 403)."""
        if isinstance(request, WebSocket):
            if not sockets.offers_protocol(request):
                return await self.reject_websocket(request)  # type: ignore[return-value]
            return await super().run(request, context, root_value)  # type: ignore[arg-type,return-value]
        # Read once here: process_result asks for every operation of a batch.
        request.state.graphql_response = prefers_graphql_response(request.headers.get("accept"))
        try:
            direct = await self._answer_directly(request, context) if context else None
            response = direct or await super().run(request, context, root_value)  # type: ignore[arg-type]
        except HTTPException as error:
            code = getattr(error, "code", "BAD_REQUEST")  # RequestRefused names its own
            body: dict[str, Any] = {
                "errors": [{"message": error.reason, "extensions": {"code": code}}]
            }
            response = JSONResponse(body, status_code=error.status_code)
            if getattr(error, "whole_batch", False):
                return response
        if response.media_type == "application/json" and request.state.graphql_response:
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
            if getattr(request.state, "request_error", False):  # set by process_result
                response.status_code = 400
        return response

    async def _answer_directly(self, request: Request, context: Context) -> Response | None:
        """Queries (`resolvers.direct`), one or a batch, by document or persisted hash, answered
        without Strawberry's view, admitted as `execute_operation` admits them; None for any
        other request, which the view answers."""
        try:
            body = await self._operations_sent(request)
        except (orjson.JSONDecodeError, HTTPException):
            return None  # the view refuses it again, with its own words
        operations = plain_queries(body)
        if operations is None:
            return None
        batch = isinstance(body, list)
        admitted = await self._admit(operations, context, batch=batch)
        documents: list[DocumentNode | None] = []
        for operation in admitted:
            if isinstance(operation, PersistedQueryNotFound):
                documents.append(None)  # answered as Strawberry's way answers it
            elif operation.query is None or (document := self.direct.document(operation)) is None:
                return None  # no query to run, or one the view answers (errors, mutations)
            else:
                documents.append(document)
        request.state.batch = batch

        async def execute(
            document: DocumentNode | None, operation: GraphQLRequestData | PersistedQueryNotFound
        ) -> ExecutionResult:
            if isinstance(operation, PersistedQueryNotFound):
                return operation
            assert document is not None
            return await self._observed(
                context, operation, self.direct.execute(document, operation, context)
            )

        if batch:  # concurrently, as Strawberry runs a batch
            results = await asyncio.gather(*map(execute, documents, admitted))
        else:  # awaited in this task: a task of its own costs 5 us more (uvloop, measured)
            results = [await execute(documents[0], admitted[0])]
        answers = [await self.process_result(request, result) for result in results]
        body = self.encode_json(answers if batch else answers[0])
        return Response(body, media_type="application/json")

    async def _operations_sent(self, request: Request) -> object:
        """What a request that may go the direct way sends: a POSTed JSON body, or a GET's
        parameters when they name a persisted query (a GET without `extensions` may be a
        browser asking for GraphiQL: the view decides); None otherwise."""
        if request.method == "GET" and "extensions" in request.query_params:
            return self.parse_query_params(request.query_params)
        if request.method == "POST" and "application/json" in request.headers.get(
            "content-type", ""
        ):
            return self.decode_json(await request.body())
        return None

    async def _admit(
        self, operations: list[GraphQLRequestData], context: Context, *, batch: bool
    ) -> list[GraphQLRequestData | PersistedQueryNotFound]:
        """Every operation with its document (a persisted query's, looked up), the request held
        to its limits: `RequestRefused` when it may not run (a batch: none of it). A hash nobody
        registered comes back as `PersistedQueryNotFound`, the answer `process_result` gives."""
        try:
            resolved = [
                await self.persisted_queries.resolve(each, context.runtime.db)
                for each in operations
            ]
        except RequestRefused as refused:
            refused.whole_batch = batch
            raise
        self._check_limits(resolved, whole_batch=batch)
        return resolved

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        """Every operation gets its document (persisted queries), and the request is held to its
        limits (`RequestLimits`), before any of them runs: a batch refused for one operation, or
        for what they add up to, runs none."""
        request.state.batch = batch = isinstance(request_data, list)
        operations = await self._admit(
            request_data if isinstance(request_data, list) else [request_data], context, batch=batch
        )
        if not batch:
            (operation,) = operations
            if isinstance(operation, PersistedQueryNotFound):
                return operation
            return await self._observed(
                context,
                operation,
                super().execute_operation(
                    request, request_adapter, operation, context, root_value, sub_response
                ),
            )

        async def execute(
            operation: GraphQLRequestData | PersistedQueryNotFound,
        ) -> ExecutionResult:
            if isinstance(operation, PersistedQueryNotFound):
                return operation
            return await self._observed(
                context,
                operation,
                self.execute_single(
                    request, request_adapter, sub_response, context, root_value, operation
                ),
            )

        return await asyncio.gather(*map(execute, operations))

    async def _observed(
        self, context: Context, operation: GraphQLRequestData, running: Awaitable[T]
    ) -> T:
        """What `running` answers, counted and timed as one operation (`app.metrics`) and
        traced as one (`app.tracing`) when it is one (a subscription over HTTP answers a
        stream)."""
        runtime = context.runtime
        metrics = runtime.metrics if self.observe else None
        if metrics is None and runtime.tracer is None:
            return await running
        max_tokens = self.direct.checks.max_tokens
        return await observed(metrics, runtime.tracer, operation, running, max_tokens)

    def _check_limits(
        self,
        operations: list[GraphQLRequestData] | list[GraphQLRequestData | PersistedQueryNotFound],
        *,
        whole_batch: bool,
    ) -> None:
        """`RequestRefused` when the operations together cost too much or run too many
        mutation fields."""
        cost = mutations = 0
        for operation in operations:
            if isinstance(operation, PersistedQueryNotFound):
                continue
            more_cost, more_mutations = self.limits.measure(
                operation.query, operation.operation_name, operation.variables
            )
            cost, mutations = cost + more_cost, mutations + more_mutations
        if reason := self.limits.too_costly(cost):
            raise RequestRefused(reason, "QUERY_TOO_COSTLY", whole_batch=whole_batch)
        if reason := self.limits.too_many_mutations(mutations):
            raise RequestRefused(reason, whole_batch=whole_batch)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """As Strawberry answers, but with no `data` entry where nothing executed: a hash
        nobody registered (HTTP 200, as Apollo's clients expect), and any request error when the
        client asked for `application/graphql-response+json` (then a 400, unless in a batch)."""
        if isinstance(result, PersistedQueryNotFound):
            return {"errors": [error.formatted for error in result.errors or []]}
        if not (request.state.graphql_response and is_request_error(result)):
            return await super().process_result(request, result)
        if not getattr(request.state, "batch", False):
            request.state.request_error = True
        return {"errors": [error.formatted for error in result.errors or []]}
