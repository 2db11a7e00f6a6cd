"""A parser cache that leaves syntax errors to Strawberry."""

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import ParserCache


class CachedParser(ParserCache):
    """Strawberry's `ParserCache`, except for documents that do not parse.

    `ParserCache` parses in its hook, outside the `try` in which Strawberry turns a syntax error
    (or the token limit) into a GraphQL error, so such errors escaped as bare exceptions without
    an error code. On failure this leaves the document unset: Strawberry parses it again itself
    and reports the error like any other. Only failing documents pay twice.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        except GraphQLError:
            context.graphql_document = None
        yield
