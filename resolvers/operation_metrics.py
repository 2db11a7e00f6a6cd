"""Each GraphQL operation an HTTP request runs, counted by name and outcome, timed
(`app.metrics`) and traced (`app.tracing`): the operations of a batch one by one, whichever
way they run."""

import contextlib
import time
from collections.abc import Awaitable
from typing import TypeVar

from graphql import GraphQLError, get_operation_ast
from opentelemetry.trace import Tracer
from strawberry.http import GraphQLRequestData
from strawberry.types.execution import ExecutionResult

from app.metrics import ANONYMOUS, Metrics
from resolvers.parser_cache import parse_document

T = TypeVar("T")
OK = "ok"


def operation_name(operation: GraphQLRequestData, max_tokens: int) -> str | None:
    """The name the client gave, or else the name of the document's one operation (parsed
    already: the parser's cache answers). None for anything but a string: the client may send
    any JSON as `operationName` (graphql-core refuses it later)."""
    given: object = operation.operation_name
    if given is not None:
        return given if isinstance(given, str) else None
    if not isinstance(operation.query, str):
        return None
    try:
        chosen = get_operation_ast(parse_document(operation.query, max_tokens))
    except GraphQLError:
        return None
    return chosen.name.value if chosen is not None and chosen.name is not None else None


def outcome(result: ExecutionResult) -> str:
    """`ok`, or the code of the first error (the contract's codes: a bounded set)."""
    if not result.errors:
        return OK
    code = (result.errors[0].extensions or {}).get("code")
    return code if isinstance(code, str) else "INTERNAL_SERVER_ERROR"


async def observed(
    metrics: Metrics | None,
    tracer: Tracer | None,
    operation: GraphQLRequestData,
    running: Awaitable[T],
    max_tokens: int,
) -> T:
    """`running`'s result, counted and timed as one operation in `metrics`, in a span of
    `tracer`'s; either may be None."""
    name = operation_name(operation, max_tokens)
    label = metrics.operation_names.label(name) if metrics is not None else (name or ANONYMOUS)
    span = (
        tracer.start_as_current_span(f"graphql {label}", attributes={"graphql.operation": label})
        if tracer is not None
        else contextlib.nullcontext()
    )
    started = time.perf_counter()
    with span as current:
        result = await running
        if not isinstance(result, ExecutionResult):
            return result
        code = outcome(result)
        if current is not None:
            current.set_attribute("graphql.outcome", code)
    if metrics is not None:
        metrics.graphql_operations.labels(label, code).inc()
        metrics.graphql_seconds.labels(label).observe(time.perf_counter() - started)
    return result
