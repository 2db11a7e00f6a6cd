"""Persisted queries: Apollo's automatic persisted queries (APQ) and trusted documents.

A request may name its document by hash (`extensions.persistedQuery.sha256Hash`) instead of, or
besides, sending it. `PersistedQueries.resolve` turns every operation (batched ones included)
into one with its document, before Strawberry sees it:

- a hash with the document: checked against it, registered (in the database, shared by every
  instance), and run;
- a hash alone: the trusted document, or the registered one, or `PersistedQueryNotFound`, which
  tells the client to send it again with the document;
- with `GRAPHQL_TRUSTED_ONLY`, only the manifest's documents run, by hash or in full, and
  nothing is registered.

Documents are cached in process by hash: the text decides the hash, so an entry is never stale.
"""

import hashlib
import json
import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

from cross_web import HTTPException
from graphql import GraphQLError, GraphQLSyntaxError, parse
from strawberry.http import GraphQLRequestData
from strawberry.types.execution import PreExecutionError

from app.database import Database
from app.services.persisted_queries import find_document, store_document
from app.settings import Settings
from models.text import SHA256_HEX_LENGTH

_SHA256 = re.compile(rf"[0-9a-f]{{{SHA256_HEX_LENGTH}}}")
CACHED_DOCUMENTS = 1000
# Anyone may register documents, so the store is bounded in size as well as in count: a longer
# document still runs when sent in full, it is only not kept.
STORED_DOCUMENT_MAX_CHARS = 16 * 1024


class RequestRefused(HTTPException):
    """A request refused before anything runs: a 400 with `code` in its error's extensions.
    `whole_batch` when the request is a batch refused as a whole: it is answered as
    `application/json` whatever the `Accept`, so a client that sent an array reports the error
    on each of its operations (a single object in the GraphQL response type would read to it
    as a malformed result)."""

    def __init__(
        self, reason: str, code: str = "BAD_REQUEST", *, whole_batch: bool = False
    ) -> None:
        super().__init__(400, reason)
        self.code = code
        self.whole_batch = whole_batch


def not_allowed() -> RequestRefused:
    return RequestRefused(
        "Only trusted documents run here: send one of them, by hash or in full",
        "PERSISTED_QUERY_NOT_ALLOWED",
    )


@dataclass
class PersistedQueryNotFound(PreExecutionError):
    """The answer to a hash nobody registered: HTTP 200 and an error, with no `data` entry."""

    @classmethod
    def error(cls) -> "PersistedQueryNotFound":
        found = GraphQLError(
            "PersistedQueryNotFound", extensions={"code": "PERSISTED_QUERY_NOT_FOUND"}
        )
        return cls(data=None, errors=[found])


def sha256_of(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def load_manifest(path: Path) -> dict[str, str]:
    """The documents of an Apollo persisted-query manifest, by id; `ValueError` saying what is
    wrong with a file that is not one (so a bad deployment stops at start-up)."""
    try:
        manifest = json.loads(path.read_text())
        if manifest.get("format") != "apollo-persisted-query-manifest":
            raise ValueError("its format is not apollo-persisted-query-manifest")
        documents = {entry["id"]: entry["body"] for entry in manifest["operations"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"GRAPHQL_TRUSTED_DOCUMENTS {path}: {error}") from error
    for sha256, body in documents.items():
        if not isinstance(body, str) or sha256_of(body) != sha256:
            raise ValueError(f"GRAPHQL_TRUSTED_DOCUMENTS {path}: {sha256} is not its body's hash")
    return documents


class PersistedQueries:
    """What a GraphQL router knows of persisted documents: the trusted ones, a cache of the
    registered ones, and the rules of the contract ("Persisted queries")."""

    def __init__(self, settings: Settings) -> None:
        path = settings.graphql_trusted_documents
        self._trusted = load_manifest(path) if path else {}
        self._trusted_only = settings.graphql_trusted_only
        self._most = settings.graphql_persisted_queries_max
        self._max_tokens = settings.graphql_max_tokens
        self._cache: OrderedDict[str, str] = OrderedDict()

    async def resolve(
        self, operation: GraphQLRequestData, db: Database
    ) -> GraphQLRequestData | PersistedQueryNotFound:
        """`operation` with its document, or the answer to a hash no one registered."""
        sha256 = _requested_hash(operation.extensions)
        query = operation.query
        if sha256 is None:
            if self._trusted_only and (query is None or not self.allows(query)):
                raise not_allowed()
            return operation
        if query is not None:
            if sha256_of(query) != sha256:
                raise RequestRefused("provided sha does not match query")
            if self._trusted_only and sha256 not in self._trusted:
                raise not_allowed()
            await self._register(sha256, query, db)
            return operation
        document = await self._document(sha256, db)
        if document is None:
            if self._trusted_only:
                raise not_allowed()
            return PersistedQueryNotFound.error()
        return replace(operation, query=document)

    async def _document(self, sha256: str, db: Database) -> str | None:
        document = self._trusted.get(sha256) or self._cache.get(sha256)
        if document is None and not self._trusted_only:
            document = await db.run(find_document, sha256=sha256)
        if document is not None:
            self._remember(sha256, document)
        return document

    async def _register(self, sha256: str, document: str, db: Database) -> None:
        """Keep a document that parses (one that does not is answered by its syntax error, and
        kept nowhere) and is not too long, unless it is trusted or already known here."""
        if sha256 in self._trusted or sha256 in self._cache:
            return
        if len(document) > STORED_DOCUMENT_MAX_CHARS:
            return
        try:
            parse(document, max_tokens=self._max_tokens)
        except GraphQLSyntaxError:
            return
        await db.run(store_document, sha256=sha256, document=document, most=self._most)
        self._remember(sha256, document)

    def allows(self, document: str) -> bool:
        """Whether `document` may run when it arrives in full (over a socket, say)."""
        return not self._trusted_only or sha256_of(document) in self._trusted

    def _remember(self, sha256: str, document: str) -> None:
        self._cache[sha256] = document
        self._cache.move_to_end(sha256)
        if len(self._cache) > CACHED_DOCUMENTS:
            self._cache.popitem(last=False)


def _requested_hash(extensions: dict[str, object] | None) -> str | None:
    """The hash of `extensions.persistedQuery`, if there is one; `RequestRefused` when it is not
    version 1 with a SHA-256 in lower-case hex."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise RequestRefused("extensions.persistedQuery must be {version: 1, sha256Hash}")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise RequestRefused(
            "extensions.persistedQuery.sha256Hash must be a lower-case hex SHA-256"
        )
    return sha256
