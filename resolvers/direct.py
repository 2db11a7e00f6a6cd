"""Queries answered straight from the schema, without Strawberry's HTTP view and its extension
runner.

A web front end's usual request is one query, or a batch of them, POSTed as JSON or sent as a
GET by the hash of a persisted query. For it, Strawberry's view and its extension runner are
bookkeeping: about 0.3 ms of CPU of a `gql_list` request (measured in process, side by side:
2.4 to 2.7 ms a request before, 2.1 to 2.4 ms after, the test client's share included). So the
router answers such a request itself, through the same parts: the document from the parser's
cache and its token limit, checked by the same validation rules through the same cache,
executed by the schema's executor and plans (a batch's queries concurrently, as Strawberry runs
them), errors presented by `ErrorCodes`' own `present`.

Anything else takes Strawberry's way, which answers it as before: a GET without a hash, a
mutation or subscription, every document that does not parse or validate (its errors are
reported there, once), and a batch holding any of those. `tests/conftest.py` holds the two ways
to the same bytes for every query the tests send.
"""

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationType,
    execute,
    get_operation_ast,
)
from strawberry.execution import optimized_is_awaitable
from strawberry.http import GraphQLRequestData
from strawberry.types.execution import ExecutionResult
from strawberry.utils.await_maybe import await_maybe

from resolvers.context import Context
from resolvers.error_codes import present
from resolvers.parser_cache import parse_document
from resolvers.plans import PlannedExecutor
from resolvers.schema import TodoSchema

_KEYS = frozenset({"query", "variables", "operationName", "extensions"})


def plain_query(body: object) -> GraphQLRequestData | None:
    """`body` as one operation: a query (or, for a persisted one, its hash in `extensions`),
    variables, an operation name and extensions of the right types and nothing else; else
    None."""
    if not isinstance(body, dict) or not body.keys() <= _KEYS:
        return None
    query, variables, name = body.get("query"), body.get("variables"), body.get("operationName")
    extensions = body.get("extensions")
    if (
        not isinstance(query, str | None)
        or not isinstance(variables, dict | None)
        or not isinstance(name, str | None)
        or not isinstance(extensions, dict | None)
        or (query is None and extensions is None)
    ):
        return None
    return GraphQLRequestData(query, variables, name, extensions, protocol="http")


def plain_queries(body: object) -> list[GraphQLRequestData] | None:
    """A request body's operations (one, or a batch's) when each is a plain query; else None."""
    operations = []
    for each in body if isinstance(body, list) else [body]:
        if (operation := plain_query(each)) is None:
            return None
        operations.append(operation)
    return operations


class DirectQueries:
    """Executes the valid query operations of one schema as its `execute` would."""

    def __init__(self, schema: TodoSchema) -> None:
        self.schema = schema
        self.checks = schema.checks

    def document(self, operation: GraphQLRequestData) -> DocumentNode | None:
        """The operation's document, when it parses, validates, and names a query; else None."""
        assert operation.query is not None
        try:
            document = parse_document(operation.query, self.checks.max_tokens)
        except GraphQLError:
            return None
        chosen = get_operation_ast(document, operation.operation_name)
        if chosen is None or chosen.operation is not OperationType.QUERY:
            return None
        if self.checks.validation_errors(self.schema._schema, document):
            return None
        return document

    async def execute(
        self, document: DocumentNode, operation: GraphQLRequestData, context: Context
    ) -> ExecutionResult:
        """As Strawberry's `Schema.execute` runs a valid query: graphql-core's `execute` with the
        same executor, plans and arguments (no middleware: no extension resolves fields), errors
        through the schema's `_process_errors` and then `present`, as `ErrorCodes` does."""
        result = await await_maybe(
            execute(
                self.schema._schema,
                document,
                context_value=context,
                variable_values=operation.variables,
                operation_name=operation.operation_name,
                executor_class=PlannedExecutor,
                is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]  # as Strawberry
                **self.schema._get_custom_context_kwargs(operation.extensions),
            )
        )
        errors = result.errors
        if errors:
            self.schema._process_errors(errors)
            errors = [present(error, suggest=self.checks.suggest) for error in errors]
        return ExecutionResult(data=result.data, errors=errors, extensions=result.extensions)
