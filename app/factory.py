"""The application factory: settings in, a FastAPI app with both doors (REST and GraphQL) out.

The composition root: the one module of `app` that knows GraphQL exists (`resolvers.router`).
"""

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from opentelemetry.trace import TracerProvider
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app import tracing
from app.access import ObservedRequests
from app.api.error_handlers import install_error_handlers
from app.api.openapi import install_openapi
from app.api.routes import auth, health, metrics, tasks, trash
from app.docs import install_docs
from app.listener import listen
from app.middleware import ApiHeadersMiddleware, BodyLimitMiddleware, QueryStringMiddleware
from app.runtime import Runtime
from app.services.retention import purge_trash_periodically
from app.settings import Settings, get_settings
from resolvers.router import TodoGraphQLRouter

# FastAPI's native OpenTelemetry, off: otherwise each request asks for the global providers.
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def _operation_id(route: APIRoute) -> str:
    """Short operation ids (`signup`, `list_tasks`) for generated clients: the handler's name."""
    return route.name


def create_app(
    settings: Settings | None = None, *, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    """The app of `settings` (default: the environment's); traced by `tracer_provider`, or by
    the one `OTEL_EXPORTER_OTLP_ENDPOINT` asks for (`app.tracing`)."""
    settings = settings or get_settings()
    own_provider = tracer_provider is None and settings.otel_exporter_otlp_endpoint is not None
    tracer_provider = tracer_provider or tracing.tracer_provider(settings)
    runtime = Runtime.from_settings(settings, tracing.tracer_of(tracer_provider))
    telemetry: TelemetryConfig | None = None if settings.telemetry else NO_TELEMETRY
    if tracer_provider is not None:  # FastAPI's request spans, to the same provider
        telemetry = {
            "tracer_provider": tracer_provider,
            "tracing": True,
            "metrics": settings.telemetry,
            "logs": settings.telemetry,
        }

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Everything built so far lives as long as the process: the collector need not trace it
        # again on each full collection (the gc module's advice for long-running servers).
        gc.freeze()
        runtime.broker.start(asyncio.get_running_loop())
        async with anyio.create_task_group() as background:
            background.start_soon(purge_trash_periodically, runtime)
            if not settings.is_sqlite:  # SQLite's events come from this process's own writes
                background.start_soon(
                    listen, runtime.db.engine, runtime.broker, settings.listener_url
                )
            yield
            background.cancel_scope.cancel()
        await runtime.authenticator.aclose()
        await runtime.db.close(within=settings.db_timeout)
        runtime.metrics.process_ended()
        if own_provider:  # the spans still batched go out before the process ends
            tracing.shut_down(tracer_provider)

    app = FastAPI(
        title="Todo API",
        version="1.0.0",
        description="A multi-user todo service: REST under `/api`, GraphQL at `/graphql`.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        openapi_url="/openapi.json" if settings.api_docs_enabled else None,
        docs_url=None,  # Swagger UI and ReDoc come from app.docs, with no CDN
        redoc_url=None,
        # No slash redirects: Starlette builds their Location from the Host header, which would
        # send a client to whatever host a request names. A clear 404 is better.
        redirect_slashes=False,
        telemetry=telemetry,
    )
    app.state.runtime = runtime

    # Each router names its whole path (`/api/...`), so the route a request took knows its
    # template (`app.access` labels metrics with it): an included router's prefix it would not.
    # The busiest routes first: FastAPI 0.165 tries an app's routes in order, through each
    # included router's own matching, 1.5 to 3.5 us a route tried; `POST /graphql`, behind the
    # 25 REST routes, spent 48 us a request finding its route, `GET /api/tasks` 23 us. In this
    # order, 7 and 11 us. (No two routers share a path, so the order changes nothing else.)
    routers = (TodoGraphQLRouter(settings), tasks.router, trash.router, health.router, auth.router)
    for router in (*routers, metrics.router):
        app.include_router(router)
    install_docs(app, settings)

    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=False,  # bearer tokens, no cookies: nothing for a browser to attach
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "If-Match",
            "If-None-Match",
            "Idempotency-Key",
        ],
        expose_headers=[
            "X-Total-Count",
            "Retry-After",
            "WWW-Authenticate",
            "ETag",
            "Idempotent-Replayed",
        ],
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        timeout=settings.request_body_timeout,
    )
    app.add_middleware(QueryStringMiddleware)
    app.add_middleware(ApiHeadersMiddleware)
    if settings.observe_requests:
        app.add_middleware(
            ObservedRequests,
            metrics=runtime.metrics,
            forwarded_allow_ips=settings.forwarded_allow_ips,
        )
    else:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    return app
