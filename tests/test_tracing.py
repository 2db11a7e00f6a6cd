"""Traces (`app.tracing`): a span per request, per GraphQL operation and per statement, caught
by the OpenTelemetry SDK's in-memory exporter."""

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app import tracing
from app.factory import create_app
from app.settings import Settings
from tests.support import graphql, register

SECRET_TITLE = "title-nobody-may-read-9f2c"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def traced(
    make_settings: Callable[..., Settings], exporter: InMemorySpanExporter
) -> Iterator[TestClient]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with TestClient(create_app(make_settings(), tracer_provider=provider)) as client:
        yield client
    provider.shutdown()


def _request_span(spans: tuple[ReadableSpan, ...], route: str) -> ReadableSpan:
    (found,) = [
        span for span in spans if span.attributes and span.attributes.get("http.route") == route
    ]
    return found


def _descends_from(
    span: ReadableSpan, ancestor: ReadableSpan, spans: tuple[ReadableSpan, ...]
) -> bool:
    by_id = {each.context.span_id: each for each in spans}
    parent = span.parent
    while parent is not None:
        if parent.span_id == ancestor.context.span_id:
            return True
        parent = by_id[parent.span_id].parent if parent.span_id in by_id else None
    return False


def test_a_request_has_a_span_with_its_route_and_its_statements_inside(
    traced: TestClient, exporter: InMemorySpanExporter
) -> None:
    account = register(traced, "traced@example.com")
    exporter.clear()
    traced.get("/api/tasks", headers=account.headers)
    spans = exporter.get_finished_spans()
    request = _request_span(spans, "/api/tasks")
    statements = [span for span in spans if span.name == "SELECT"]
    assert statements
    assert all(_descends_from(span, request, spans) for span in statements)


def test_a_graphql_operation_has_a_span_of_its_own_around_its_statements(
    traced: TestClient, exporter: InMemorySpanExporter
) -> None:
    account = register(traced, "traced@example.com")
    exporter.clear()
    graphql(traced, "query Mine { tasks { totalCount } }", account=account)
    spans = exporter.get_finished_spans()
    (operation,) = [span for span in spans if span.name == "graphql Mine"]
    assert operation.attributes is not None
    assert operation.attributes["graphql.outcome"] == "ok"
    assert _descends_from(operation, _request_span(spans, "/graphql"), spans)
    statements = [span for span in spans if span.name == "SELECT"]
    assert statements
    assert all(_descends_from(span, operation, spans) for span in statements)


def test_a_statement_span_holds_the_sql_but_never_its_values(
    traced: TestClient, exporter: InMemorySpanExporter
) -> None:
    account = register(traced, "traced@example.com")
    traced.post("/api/tasks", json={"title": SECRET_TITLE}, headers=account.headers)
    spans = exporter.get_finished_spans()
    (insert,) = [
        span
        for span in spans
        if span.name == "INSERT" and "tasks" in str((span.attributes or {}).get("db.query.text"))
    ]
    assert insert.attributes is not None
    assert insert.attributes["db.system.name"] in ("sqlite", "postgresql")
    everything = " ".join(str(span.attributes) for span in spans)
    assert SECRET_TITLE not in everything
    assert account.password not in everything


def test_without_an_endpoint_nothing_is_traced(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    assert tracing.tracer_provider(settings) is None
    assert create_app(settings).state.runtime.tracer is None


def test_an_endpoint_gives_a_provider_that_exports_there(
    make_settings: Callable[..., Settings],
) -> None:
    provider = tracing.tracer_provider(
        make_settings(otel_exporter_otlp_endpoint="http://127.0.0.1:4318")
    )
    assert isinstance(provider, TracerProvider)
    provider.shutdown()


def test_spans_batched_at_shutdown_reach_the_collector(
    make_settings: Callable[..., Settings],
) -> None:
    """The provider made from OTEL_EXPORTER_OTLP_ENDPOINT exports what it batched as the app
    stops (its batches otherwise leave every 5 s, and the last would be lost)."""
    received: list[str] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    collector = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{collector.server_port}"
    try:
        with TestClient(create_app(make_settings(otel_exporter_otlp_endpoint=endpoint))) as client:
            client.get("/api/health")
            assert received == []  # still batched
        assert "/v1/traces" in received
    finally:
        collector.shutdown()
