"""Queries executed from compiled plans (`resolvers.plans`), on the router's direct way
(`resolvers.direct`), answer exactly as Strawberry's way with graphql-core's executor does: the
same data and errors, byte for byte.

Every query the other tests send is compared too (`executors_agree` in conftest.py); here are
random queries over the whole schema (hypothesis-graphql, with aliases, fragments and
directives drawn into them) and the documents an attacker would try. PLANS_EXAMPLES sets the
number of random queries (CI runs the default; a run by hand may ask for many thousands), and
PLANS_RANDOM=1 draws new ones instead of the same each run.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    print_ast,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import queries

from app.services.listing import TaskPage
from app.settings import Settings
from app.throttle import Client
from resolvers.context import Context
from resolvers.direct import DirectQueries, plain_query
from resolvers.plans import OPERATIONS_KEPT, VARIANTS_KEPT, PlannedExecutor
from resolvers.schema import TodoSchema, build_schema
from schema.types import TaskType
from tests.support import (
    Account,
    agreeing_answers,
    create_task,
    graphql,
    register,
    response_bytes,
)

EXAMPLES = int(os.environ.get("PLANS_EXAMPLES", "300"))
RANDOM = os.environ.get("PLANS_RANDOM") == "1"


@dataclass
class Executors:
    """One schema with plans and its copy without, run on the app's runtime, in its loop: the
    first as the router runs a plain query (directly, where `DirectQueries` takes it), the
    second through Strawberry's `execute` and graphql-core alone."""

    planned: TodoSchema
    unplanned: TodoSchema
    context: Callable[[Account], Context]
    client: TestClient

    def agree(self, account: Account, query: str, variables: dict[str, Any] | None = None) -> bytes:
        """The answer of both executors, which must be the same bytes (`agreeing_answers`)."""
        direct = DirectQueries(self.planned)
        operation = plain_query({"query": query, "variables": variables})
        assert operation is not None
        document = direct.document(operation)

        async def run_planned() -> bytes:
            context = self.context(account)
            if document is None:  # not valid: the router leaves it to Strawberry
                return response_bytes(await self.planned.execute(query, variables, context))
            return response_bytes(await direct.execute(document, operation, context))

        async def run_unplanned() -> bytes:
            return response_bytes(
                await self.unplanned.execute(query, variables, self.context(account))
            )

        async def both() -> tuple[bytes, bytes]:
            return await agreeing_answers(run_planned, run_unplanned)

        assert self.client.portal is not None
        planned, unplanned = self.client.portal.call(both)
        assert planned == unplanned, query
        return planned


@pytest.fixture
def executors(app: FastAPI, client: TestClient, settings: Settings) -> Executors:
    runtime = app.state.runtime

    def context(account: Account) -> Context:
        client_ = Client.arriving("127.0.0.1", settings)
        return Context(runtime, f"Bearer {account.access_token}", client_)

    return Executors(
        build_schema(settings), build_schema(settings, compiled=False), context, client
    )


@dataclass
class World:
    alice: Account
    bob: Account
    task_ids: list[int]  # alice's live tasks, bob's, alice's trashed one, one that never was


@pytest.fixture
def world(client: TestClient) -> World:
    """Two users; tasks with and without tags, due dates and priorities; one in the trash."""
    alice, bob = register(client, "alice@example.com"), register(client, "bob@example.com")
    ids = [
        create_task(client, alice, "plain")["id"],
        create_task(client, alice, "tagged", tags=["Work", "home"], priority="high")["id"],
        create_task(client, alice, "due", due_at="2027-01-02T03:04:05Z", description="d")["id"],
        create_task(client, bob, "bob's")["id"],
    ]
    done = create_task(client, alice, "done")["id"]
    client.patch(f"/api/tasks/{done}", json={"completed": True}, headers=alice.headers)
    trashed = create_task(client, alice, "trashed", tags=["old"])["id"]
    assert client.delete(f"/api/tasks/{trashed}", headers=alice.headers).status_code == 200
    return World(alice, bob, [*ids, done, trashed, 999_999])


# Random documents: hypothesis-graphql's queries, then aliases, fragments and directives.


def _name(value: str) -> NameNode:
    return NameNode(value=value)


class Decorator:
    """Draws changes into a generated query that keep it valid: fields again under aliases,
    selections moved into inline or named fragments, `@include`/`@skip` with literals and
    variables, `__typename`, and arguments biased towards the seeded data."""

    def __init__(self, data: st.DataObject, task_ids: list[int]) -> None:
        self.draw = data.draw
        self.task_ids = task_ids
        self.fragments: list[FragmentDefinitionNode] = []
        self.variables: dict[str, bool] = {}
        self.aliases = 0

    def document(self, document: DocumentNode, query_type: GraphQLObjectType) -> DocumentNode:
        operation = document.definitions[0]
        assert isinstance(operation, OperationDefinitionNode)
        assert operation.selection_set is not None
        selection_set = self.selection_set(query_type, operation.selection_set)
        boolean = NonNullTypeNode(type=NamedTypeNode(name=_name("Boolean")))
        variables = tuple(
            VariableDefinitionNode(variable=VariableNode(name=_name(name)), type=boolean)
            for name in self.variables
        )
        query = OperationDefinitionNode(
            operation=OperationType.QUERY,
            variable_definitions=variables,
            directives=(),
            selection_set=selection_set,
        )
        return DocumentNode(definitions=(query, *self.fragments))

    def directives(self) -> tuple[DirectiveNode, ...]:
        if self.draw(st.integers(0, 3)):
            return ()
        if self.draw(st.booleans()):
            name = f"v{len(self.variables)}"
            self.variables[name] = self.draw(st.booleans())
            value: Any = VariableNode(name=_name(name))
        else:
            value = BooleanValueNode(value=self.draw(st.booleans()))
        argument = ArgumentNode(name=_name("if"), value=value)
        which = self.draw(st.sampled_from(["include", "skip"]))
        return (DirectiveNode(name=_name(which), arguments=(argument,)),)

    def arguments(self, field: FieldNode) -> tuple[ArgumentNode, ...]:
        arguments = tuple(field.arguments or ())
        if field.name.value == "task":
            task_id = IntValueNode(value=str(self.draw(st.sampled_from(self.task_ids))))
            return (ArgumentNode(name=_name("id"), value=task_id),)
        if field.name.value in {"tasks", "trash"} and self.draw(st.integers(0, 3)):
            kept = tuple(each for each in arguments if each.name.value not in {"first", "after"})
            first = self.draw(st.sampled_from([1, 2, 3, 50, 0, 501]))
            return (*kept, ArgumentNode(name=_name("first"), value=IntValueNode(value=str(first))))
        return arguments

    def field(self, parent: GraphQLObjectType, node: FieldNode, alias: str | None) -> FieldNode:
        selection_set = None
        if node.selection_set is not None:
            child = get_named_type(parent.fields[node.name.value].type)
            assert isinstance(child, GraphQLObjectType)
            selection_set = self.selection_set(child, node.selection_set)
        return FieldNode(
            alias=_name(alias) if alias else None,
            name=node.name,
            arguments=self.arguments(node),
            directives=self.directives(),
            selection_set=selection_set,
        )

    def selection_set(
        self, parent: GraphQLObjectType, original: SelectionSetNode
    ) -> SelectionSetNode:
        selections: list[SelectionNode] = []
        for node in original.selections:
            assert isinstance(node, FieldNode)
            selections.append(self.field(parent, node, None))
            if not self.draw(st.integers(0, 4)):
                self.aliases += 1
                selections.append(self.field(parent, node, f"again{self.aliases}"))
        if not self.draw(st.integers(0, 3)):
            selections.insert(self.draw(st.integers(0, len(selections))), self.typename())
        if len(selections) > 1 and self.draw(st.booleans()):
            cut = self.draw(st.integers(1, len(selections) - 1))
            selections = [*selections[:cut], self.fragment(parent, selections[cut:])]
        return SelectionSetNode(selections=tuple(selections))

    def typename(self) -> FieldNode:
        return FieldNode(name=_name("__typename"), arguments=(), directives=self.directives())

    def fragment(self, parent: GraphQLObjectType, selections: list[SelectionNode]) -> SelectionNode:
        selection_set = SelectionSetNode(selections=tuple(selections))
        on = NamedTypeNode(name=_name(parent.name))
        if self.draw(st.booleans()):
            return InlineFragmentNode(
                type_condition=on, directives=self.directives(), selection_set=selection_set
            )
        name = f"F{len(self.fragments)}"
        self.fragments.append(
            FragmentDefinitionNode(
                name=_name(name),
                type_condition=on,
                directives=(),
                selection_set=selection_set,
                variable_definitions=(),
            )
        )
        return FragmentSpreadNode(name=_name(name), directives=self.directives(), arguments=())


def _string(values: list[str]) -> st.SearchStrategy[StringValueNode]:
    return st.sampled_from(values).map(lambda value: StringValueNode(value=value))


def random_queries(executors: Executors) -> st.SearchStrategy[DocumentNode]:
    scalars = {
        "DateTime": _string(["2027-01-01T00:00:00Z", "2020-01-01T00:00:00+02:00", "not a date"]),
        "UUID": _string(["00000000-0000-0000-0000-000000000000", "nope"]),
    }
    schema = executors.planned._schema
    return queries(schema, custom_scalars=scalars, print_ast=lambda node: node)


def test_random_queries_answer_as_graphql_core_does(executors: Executors, world: World) -> None:
    query_type = executors.planned._schema.query_type
    assert query_type is not None
    answered = {"data": 0, "errors": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(generated=random_queries(executors), data=st.data())
    def check(generated: DocumentNode, data: st.DataObject) -> None:
        decorator = Decorator(data, world.task_ids)
        document = print_ast(decorator.document(generated, query_type))
        account = data.draw(st.sampled_from([world.alice, world.bob]))
        answer = executors.agree(account, document, decorator.variables)
        assert b"INTERNAL_SERVER_ERROR" not in answer, (document, answer)  # no query breaks
        answered["errors" if b'"errors":[' in answer else "data"] += 1

    check()
    print(f"{EXAMPLES} random queries: {answered}")  # the by-hand run's count
    assert answered["data"] > EXAMPLES / 4, answered  # most queries reach the data


# Attacks, and the corners of the spec


def test_the_plan_cache_is_bounded_however_many_documents_arrive(
    executors: Executors, world: World
) -> None:
    for number in range(OPERATIONS_KEPT + 40):
        executors.agree(world.alice, f"{{ a{number}: me {{ name }} }}")
    assert len(executors.planned.plans or ()) == OPERATIONS_KEPT


def test_documents_that_differ_only_in_variables_get_their_own_answers(
    executors: Executors, world: World
) -> None:
    query = """query ($a: Boolean!, $b: Boolean!) {
      tasks(first: 3) { nodes { id title @include(if: $a) tags @skip(if: $b) } } }"""
    answers = {
        executors.agree(world.alice, query, {"a": a, "b": b})
        for a in (True, False)
        for b in (True, False)
    }
    assert len(answers) == 4


def test_more_variants_of_a_document_than_are_kept_run_through_graphql_core(
    executors: Executors, world: World
) -> None:
    names = [f"v{index}" for index in range(5)]  # 32 variants, VARIANTS_KEPT are planned
    query = "query ({}) {{ me {{ {} }} }}".format(
        ", ".join(f"${name}: Boolean!" for name in names),
        " ".join(f"{name}: name @include(if: ${name})" for name in names),
    )
    for variant in range(2 ** len(names)):
        variables = {name: bool(variant >> index & 1) for index, name in enumerate(names)}
        executors.agree(world.alice, query, variables)
    plans = executors.planned.plans
    assert plans is not None
    assert len(next(iter(plans._operations.values())).variants) == VARIANTS_KEPT


def test_directives_on_fragments_and_spreads_decide_per_request(
    executors: Executors, world: World
) -> None:
    query = """query ($with: Boolean!) {
      me { ...Who @include(if: $with) ... on User @skip(if: $with) { id } }
      tasks(first: 2) { nodes { ... on Task @include(if: $with) { title } id } } }
    fragment Who on User { name email }"""
    shown = executors.agree(world.alice, query, {"with": True})
    hidden = executors.agree(world.alice, query, {"with": False})
    assert b'"email"' in shown
    assert b'"email"' not in hidden


def test_one_field_under_two_aliases_with_different_arguments(
    executors: Executors, world: World
) -> None:
    mine, theirs = world.task_ids[0], world.task_ids[3]
    query = f"""{{ one: tasks(first: 1) {{ nodes {{ id }} }}
      two: tasks(first: 2) {{ nodes {{ id }} }}
      mine: task(id: {mine}) {{ title }} theirs: task(id: {theirs}) {{ title }} }}"""
    answer = executors.agree(world.alice, query)
    assert b'"theirs":null' in answer


def test_fields_merged_from_fragments_complete_once(executors: Executors, world: World) -> None:
    query = """{ tasks(first: 2) { nodes { id ...A ...B } ...C } }
    fragment A on Task { title owner { name } }
    fragment B on Task { title owner { email } }
    fragment C on TaskConnection { nodes { completed } pageInfo { hasNextPage } totalCount }"""
    executors.agree(world.alice, query)


def test_an_error_inside_a_list_nulls_up_to_the_nearest_nullable_parent(
    executors: Executors, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cursor = TaskPage.cursor

    def failing_cursor(page: TaskPage, index: int) -> str:
        if index == 1:
            raise RuntimeError("the cursor of the second task")
        return cursor(page, index)

    monkeypatch.setattr(TaskPage, "cursor", failing_cursor)
    answer = executors.agree(
        world.alice, "{ tasks(first: 3) { edges { cursor node { id } } } taskStats { total } }"
    )
    assert answer.startswith(b'{"data":null,"errors":[{"message":"Internal server error"')


def spoil_tasks(monkeypatch: pytest.MonkeyPatch, change: Callable[[TaskType], None]) -> None:
    """Every task the resolvers make goes through `change`: bad data, for the errors it causes."""
    from_row = TaskType.from_row

    def spoiled(task: Any, owner: Any) -> TaskType:
        made = from_row(task, owner)
        change(made)
        return made

    monkeypatch.setattr(TaskType, "from_row", spoiled)


def test_a_bad_value_in_a_nullable_field_of_a_list_item_nulls_that_field(
    executors: Executors, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bad_due_date(task: TaskType) -> None:
        if task.title == "tagged":
            task.due_at = "not a datetime"  # type: ignore[assignment]

    spoil_tasks(monkeypatch, bad_due_date)
    answer = executors.agree(world.alice, "{ tasks { nodes { title dueAt tags } } }")
    assert b'"path":["tasks","nodes",' in answer


def test_a_null_in_a_non_null_list_item_is_an_error_at_its_index(
    executors: Executors, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def null_tag(task: TaskType) -> None:
        if task.tags:
            task.tags = [*task.tags, None]  # type: ignore[list-item]

    spoil_tasks(monkeypatch, null_tag)
    answer = executors.agree(world.alice, "{ tasks { nodes { id tags } } me { name } }")
    assert answer.startswith(b'{"data":null,')  # `tasks` is non-null: the null reaches the root
    assert b'"path":["tasks","nodes",1,"tags",2]' in answer


def test_an_exception_held_as_a_plain_value_is_a_masked_error_at_its_path(
    executors: Executors, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_title(task: TaskType) -> None:
        if task.title == "due":
            task.title = RuntimeError("a title that failed")  # type: ignore[assignment]

    spoil_tasks(monkeypatch, failing_title)
    answer = executors.agree(world.alice, "{ tasks { nodes { id title } } }")
    assert b'"message":"Internal server error"' in answer
    assert b'"title"]' in answer  # the error's path ends at the field


def test_a_null_owner_propagates_to_the_nearest_nullable_parent(
    executors: Executors, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_owner(task: TaskType) -> None:
        if task.title == "tagged":
            task.owner = None  # type: ignore[assignment]

    spoil_tasks(monkeypatch, no_owner)
    query = "{ me { name } tasks { nodes { title owner { name } } } }"  # the title: `no_owner`'s
    answer = executors.agree(world.alice, query)
    assert answer.startswith(b'{"data":null,')  # nodes, tasks: non-null up to the root
    assert b'"path":["tasks","nodes",1,"owner"]' in answer


def test_tags_held_in_a_tuple_complete_as_graphql_core_completes_any_iterable(
    executors: Executors, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def tuple_tags(task: TaskType) -> None:
        task.tags = tuple(task.tags)  # type: ignore[assignment]

    spoil_tasks(monkeypatch, tuple_tags)
    answer = executors.agree(world.alice, "{ tasks { nodes { title tags } } }")
    assert b'"tags":["home","Work"]' in answer


def test_typenames_inside_a_page_answer_alike(executors: Executors, world: World) -> None:
    query = "{ tasks { __typename nodes { __typename id owner { __typename name } } } }"
    answer = executors.agree(world.alice, query)
    assert b'"owner":{"__typename":"User","name":"Ada"}' in answer


def test_a_page_of_plain_fields_completes_without_the_general_way(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page whose nodes hold only data is completed by its plain completer: the general way
    completes only the root's fields."""
    completed: list[str] = []
    complete_object = PlannedExecutor._complete_object

    def spy(executor: PlannedExecutor, selection: Any, source: Any, path: Any) -> Any:
        completed.append(type(source).__name__)
        return complete_object(executor, selection, source, path)

    monkeypatch.setattr(PlannedExecutor, "_complete_object", spy)
    query = "{ tasks(first: 5) { nodes { id title completed createdAt owner { name } } } }"
    body = graphql(client, query, account=world.alice)
    assert len(body["data"]["tasks"]["nodes"]) == 4  # alice's live tasks
    assert body["data"]["tasks"]["nodes"][0]["owner"] == {"name": "Ada"}
    assert completed.count("TaskType") == completed.count("UserType") == 0
    assert completed  # the root's fields: the general way


def test_a_service_error_keeps_its_code_and_the_other_fields(
    executors: Executors, world: World
) -> None:
    answer = executors.agree(world.alice, "{ me { name } tasks(first: 0) { totalCount } }")
    assert b'"BAD_USER_INPUT"' in answer


def test_without_a_token_every_field_answers_unauthenticated_alike(
    executors: Executors, world: World
) -> None:
    stranger = Account("x@example.com", "", "not-a-token", "")
    answer = executors.agree(stranger, "{ me { name } tags { name } sessions { id } }")
    assert b'"UNAUTHENTICATED"' in answer


def test_introspection_and_typename_at_the_root_are_answered_alike(
    executors: Executors, world: World
) -> None:
    executors.agree(world.alice, '{ __typename me { __typename } __type(name: "Task") { name } }')


def test_the_apps_queries_run_from_plans(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned: list[str] = []
    complete_object = PlannedExecutor._complete_object

    def spy(executor: PlannedExecutor, selection: Any, source: Any, path: Any) -> Any:
        planned.append(executor.operation.operation.value)
        return complete_object(executor, selection, source, path)

    monkeypatch.setattr(PlannedExecutor, "_complete_object", spy)
    body = graphql(client, "{ me { name } }", account=world.alice)
    assert body == {"data": {"me": {"name": "Ada"}}}
    assert "query" in planned
    planned.clear()
    graphql(client, 'mutation { createTask(input: {title: "t"}) { id } }', account=world.alice)
    assert planned == []  # mutations run through graphql-core


def test_two_root_fields_failing_at_once_answer_as_graphql_core_may(
    executors: Executors, world: World
) -> None:
    """Found by the random queries: both fields fail in their worker threads, and `trash` is
    non-null, so the answer keeps whichever error came first (a race, in either executor)."""
    query = '{ trash(after: "") { totalCount } again: trash(after: "") { totalCount } }'
    answer = executors.agree(world.alice, query)
    assert answer.startswith(b'{"data":null,"errors":[{"message":"Invalid cursor"')
