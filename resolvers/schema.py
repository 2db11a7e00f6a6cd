"""The schema object: the root types, their resolvers, and the limits that guard them."""

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    specified_rules,
)
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from app.settings import Settings
from models.task import MAX_PAGE_SIZE
from resolvers import document_limits, mutations, queries, subscriptions
from resolvers.error_codes import ErrorCodes
from resolvers.parser_cache import DOCUMENTS_KEPT, CachedParser
from resolvers.plans import PlannedExecutor, Plans
from schema.scalars import SCALAR_OVERRIDES
from schema.types import (
    AuthPayload,
    SessionType,
    TagCountType,
    TaskConnection,
    TaskStatsType,
    TaskType,
    TokenPair,
    UserType,
)


@strawberry.type
class Query:
    me: UserType = strawberry.field(resolver=queries.me, description="The authenticated user.")
    task: TaskType | None = strawberry.field(
        resolver=queries.task, description="One of your tasks; null when missing or not yours."
    )
    tasks: TaskConnection = strawberry.field(
        resolver=queries.tasks,
        description="Your tasks, incomplete first, then newest first, or in `orderBy`; "
        f"`first` is 1..{MAX_PAGE_SIZE}. A cursor continues only its own order and filter.",
    )
    task_stats: TaskStatsType = strawberry.field(resolver=queries.task_stats)
    tags: list[TagCountType] = strawberry.field(
        resolver=queries.tags, description="The tags your live tasks carry, with their counts."
    )
    trash: TaskConnection = strawberry.field(
        resolver=queries.trash, description="Your deleted tasks, most recently deleted first."
    )
    sessions: list[SessionType] = strawberry.field(
        resolver=queries.sessions,
        description="Where you are signed in: live sessions, newest first.",
    )


@strawberry.type
class Mutation:
    signup: AuthPayload = strawberry.field(resolver=mutations.signup)
    login: AuthPayload = strawberry.field(
        resolver=mutations.login,
        description="Failed attempts are throttled per email (RATE_LIMITED).",
    )
    refresh_token: TokenPair = strawberry.field(
        resolver=mutations.refresh_token,
        description="Rotate a refresh token; replaying a retired one ends its session.",
    )
    logout: bool = strawberry.field(
        resolver=mutations.logout, description="Revoke a refresh token."
    )
    revoke_session: bool = strawberry.field(
        resolver=mutations.revoke_session,
        description="End one of your sessions: its tokens stop working at once.",
    )
    change_password: bool = strawberry.field(
        resolver=mutations.change_password,
        description="A wrong current password counts as a failed login; other sessions end.",
    )
    delete_account: bool = strawberry.field(
        resolver=mutations.delete_account,
        description="Deletes the account and everything of it, once the password is confirmed "
        "(with a Better Auth token of the last 5 minutes, any password will do).",
    )
    link_identity: UserType = strawberry.field(
        resolver=mutations.link_identity,
        description="Link a Better Auth sign-in (a token of its `jwt` plugin) to your account; "
        "CONFLICT when it belongs to another account.",
    )
    create_task: TaskType = strawberry.field(resolver=mutations.create_task)
    update_task: TaskType = strawberry.field(
        resolver=mutations.update_task,
        description="With `expectedVersion`, only at that version (else CONFLICT).",
    )
    toggle_task: TaskType = strawberry.field(resolver=mutations.toggle_task)
    delete_task: bool = strawberry.field(
        resolver=mutations.delete_task, description="Moves the task to the trash."
    )
    restore_task: TaskType = strawberry.field(resolver=mutations.restore_task)
    purge_task: bool = strawberry.field(
        resolver=mutations.purge_task, description="Deletes a trashed task for good."
    )
    empty_trash: int = strawberry.field(
        resolver=mutations.empty_trash, description="How many trashed tasks were purged."
    )


@strawberry.type
class Subscription:
    task_events = strawberry.subscription(
        resolver=subscriptions.task_events,
        description="Your tasks' changes as they commit, from every door and instance. "
        "Over a graphql-transport-ws socket; refetch after (re)subscribing.",
    )


@dataclass(frozen=True)
class Checks:
    """What every document is held to, read by the schema's extensions and by
    `resolvers.direct`, which answers plain queries without them."""

    max_tokens: int
    rules: tuple[type[ASTValidationRule], ...]  # besides the specification's own
    suggest: bool  # whether messages may guess at names (not in production)
    _validated: OrderedDict[int, tuple[DocumentNode, list[GraphQLError]]] = field(
        default_factory=OrderedDict, compare=False, repr=False
    )

    @property
    def validation_rules(self) -> tuple[type[ASTValidationRule], ...]:
        """All the rules, as Strawberry's `AddValidationRules` extends the specified ones."""
        return (*specified_rules, *self.rules)

    def validation_errors(
        self, schema: GraphQLSchema, document: DocumentNode
    ) -> list[GraphQLError]:
        """`document`'s errors against all the rules, from the cache the schema's
        `ValidationCache` fills (Strawberry shares one per size): a document is validated once,
        whichever way its requests take.

        That cache is keyed by the document's hash, which graphql-core works out over the whole
        tree at every lookup (13 us for the bench's page query, once per operation). The parser's
        cache hands back the same `DocumentNode` for the same text, so the answer is kept here
        too, by the document's identity (the document held, so its id is not reused), for as
        many documents as the caches keep."""
        known = self._validated.get(id(document))
        if known is not None and known[0] is document:
            return known[1]
        validate = ValidationCache(maxsize=DOCUMENTS_KEPT).cached_validate_document
        errors: list[GraphQLError] = validate(schema, document, self.validation_rules)
        self._validated[id(document)] = (document, errors)
        if len(self._validated) > DOCUMENTS_KEPT:
            self._validated.popitem(last=False)
        return errors

    def extensions(self) -> list[Callable[[], SchemaExtension]]:
        """Factories, not instances: Strawberry builds fresh extensions for each operation.
        The caches key on the query text (with the token limit) and on the parsed document."""
        return [
            partial(MaxTokensLimiter, max_token_count=self.max_tokens),
            CachedParser,
            partial(AddValidationRules, list(self.rules)),
            partial(ValidationCache, maxsize=DOCUMENTS_KEPT),
            partial(ErrorCodes, suggest=self.suggest),
        ]


class TodoSchema(strawberry.Schema):
    """Logs only what `ErrorCodes` will mask: domain errors are answers, not incidents. With
    `plans`, queries run from compiled plans (`resolvers.plans`); without, all through
    graphql-core."""

    def __init__(
        self, *args: Any, checks: Checks, plans: Plans | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.checks = checks
        self.plans = plans

    def _get_custom_context_kwargs(
        self, operation_extensions: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        """Strawberry hands these to the executor it builds for each operation."""
        kwargs = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        return {**kwargs, "plans": self.plans}

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None  # resolvers.error_codes.present logs the unexpected ones


def _validation_rules(settings: Settings) -> tuple[type[ASTValidationRule], ...]:
    """The limits as validation rules, built once per schema: the same rule classes from request
    to request are what lets `ValidationCache` hit. Depth and aliases are measured with each
    fragment once (`resolvers.document_limits`), not by Strawberry's limiters, which expand every
    spread again (2^n for a chain of fragments that each spread the next one twice)."""
    rules = document_limits.validation_rules(
        max_depth=settings.graphql_max_depth, max_aliases=settings.graphql_max_aliases
    )
    if not settings.introspection_enabled:
        rules += DisableIntrospection().validation_rules
    return tuple(rules)


def build_schema(settings: Settings, *, compiled: bool = True) -> TodoSchema:
    checks = Checks(
        max_tokens=settings.graphql_max_tokens,
        rules=_validation_rules(settings),
        suggest=not settings.is_production,
    )
    return TodoSchema(
        checks=checks,
        extensions=checks.extensions(),
        plans=Plans() if compiled else None,
        execution_context_class=PlannedExecutor,
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        scalar_overrides=SCALAR_OVERRIDES,
        config=StrawberryConfig(
            batching_config={"max_operations": settings.graphql_max_batch},
            disable_field_suggestions=settings.is_production,
        ),
    )


def export_sdl() -> str:
    """The schema in SDL; limits and error handling do not change it, so no settings are needed."""
    schema = strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription)
    return schema.as_str() + "\n"
