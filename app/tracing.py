"""Traces, when `OTEL_EXPORTER_OTLP_ENDPOINT` names a collector (OpenTelemetry's own variable;
the SDK is the optional extra: `pip install '.[otel]'`).

Three kinds of span: one per request (FastAPI's own, with its route template), one per GraphQL
operation (`resolvers.operation_metrics`), and one per database statement. The statements run on
the driver's cursor (`app.statements`), where SQLAlchemy's instrumentation would see none of them,
so `Runner` spans each itself. anyio copies the request's context into the worker thread, so a
statement's span is a child of its request's.

Unset, there is no provider and no tracer: what would trace checks for None, once a statement.
"""

import contextlib

from opentelemetry.trace import SpanKind, Tracer, TracerProvider

from app.settings import Settings

SERVICE_NAME = "todo-api"


def tracer_provider(settings: Settings) -> TracerProvider | None:
    """A provider exporting by OTLP over HTTP to the configured endpoint, or None."""
    if settings.otel_exporter_otlp_endpoint is None:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as missing:
        raise RuntimeError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set, but the OpenTelemetry SDK is not installed: "
            "pip install '.[otel]'"
        ) from missing
    provider = SdkTracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    # The endpoint from the settings (`.env` included, which the SDK does not read), with the
    # path of traces appended, as the SDK appends it to the variable's base URL.
    traces = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces)))
    return provider


def shut_down(provider: TracerProvider | None) -> None:
    """Export what is batched and stop (the SDK's providers can; the API's no-op one cannot)."""
    shutdown = getattr(provider, "shutdown", None)
    if shutdown is not None:
        shutdown()


def tracer_of(provider: TracerProvider | None) -> Tracer | None:
    return provider.get_tracer(SERVICE_NAME) if provider is not None else None


def statement_span(
    tracer: Tracer | None, database: str, sql: str
) -> contextlib.AbstractContextManager[object]:
    """The span of one statement, named by its verb (`SELECT`, `INSERT`, ...), with its SQL:
    the text only, whose values are all bound, so no value reaches a trace."""
    if tracer is None:
        return contextlib.nullcontext()
    return tracer.start_as_current_span(
        sql.split(None, 1)[0].upper(),
        kind=SpanKind.CLIENT,
        attributes={"db.system.name": database, "db.query.text": sql},
    )
