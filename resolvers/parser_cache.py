"""A parser cache that leaves syntax errors to Strawberry, and the same cache for the router."""

from collections.abc import Iterator

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import ParserCache

DOCUMENTS_KEPT = 256


class CachedParser(ParserCache):
    """Strawberry's `ParserCache`, except for documents that do not parse.

    `ParserCache` parses in its hook, outside the `try` in which Strawberry turns a syntax error
    (or the token limit) into a GraphQL error, so such errors escaped as bare exceptions without
    an error code. On failure this leaves the document unset: Strawberry parses it again itself
    and reports the error like any other. Only failing documents pay twice.
    """

    def __init__(self) -> None:
        super().__init__(maxsize=DOCUMENTS_KEPT)

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        except GraphQLError:
            context.graphql_document = None
        yield


def parse_document(query: str, max_tokens: int) -> DocumentNode:
    """`query` parsed within `max_tokens`, from the cache the schema's `CachedParser` fills (the
    LRU cache Strawberry shares between `ParserCache`s of one size): the router measures a
    document before it runs, and the document is parsed once for both."""
    parse = CachedParser().cached_parse_document
    document: DocumentNode = parse(query, max_tokens=max_tokens)
    return document
