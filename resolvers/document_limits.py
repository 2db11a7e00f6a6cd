"""What one GraphQL document may ask for: its depth, its aliases, its cost and its mutation fields.

Each measure visits every fragment once, however often it is spread (the result of a fragment is
remembered by name), so checking a document costs time in proportion to its size. Strawberry's
`QueryDepthLimiter` and `MaxAliasesLimiter` expand every spread again: a chain of fragments that
each spread the next one twice cost them 2^n (22 levels, 909 bytes: 29 s).

- **Depth** (a validation rule): the deepest field below a root field, introspection fields not
  counted (GraphiQL's introspection query is deep, and bounded by the schema).
- **Aliases** (a validation rule): the aliased fields written in the document.
- **Cost**, checked per request before anything runs (`Cost`): the number of objects the
  operation can return. A connection (a type with `pageInfo`) counts its `first` (or its default,
  at most the page size) times one plus the objects selected in each of its items; a single
  object counts one; any other list of objects counts `NOMINAL_LIST_LENGTH` of them; scalars and
  introspection count nothing. It is an upper bound: a field selected twice under one name is
  counted twice, though it runs once.
- **Mutation fields**: the root fields of a mutation, `__typename` aside.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    VariableNode,
    get_named_type,
    get_nullable_type,
)

T = TypeVar("T")
NOMINAL_LIST_LENGTH = 50  # a list that is not paged by `first` (tags, sessions) counts this many
MEASURES_KEPT = 1024
MEASURED_QUERY_MAX_CHARS = 16 * 1024  # longer documents are measured each time, not kept
_PAGE_ARGUMENT = "first"


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


class _PerFragment(Generic[T]):
    """`measure(fragment)` of every fragment, each computed once, in dependency order: a fragment
    after those it spreads, so measuring one never recurses into another (a chain of thousands of
    fragments costs no Python stack). A fragment of a cycle (validation refuses those) sees the
    ones of the cycle not yet measured, and unknown ones, as `zero`."""

    def __init__(
        self,
        fragments: Mapping[str, FragmentDefinitionNode],
        measure: Callable[[FragmentDefinitionNode], T],
        zero: T,
    ) -> None:
        self._fragments = fragments
        self._measure = measure
        self._zero = zero
        self._known: dict[str, T] | None = None

    def __call__(self, name: str) -> T:
        if self._known is None:
            self._known = {}
            for each in _dependency_order(self._fragments):
                self._known[each] = self._measure(self._fragments[each])
        return self._known.get(name, self._zero)


def _spread_names(selection_set: SelectionSetNode) -> list[str]:
    """The fragments a selection set spreads, at any depth of it."""
    names: list[str] = []
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                names.append(selection.name.value)
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                pending.append(selection.selection_set)
    return names


def _dependency_order(fragments: Mapping[str, FragmentDefinitionNode]) -> list[str]:
    """The fragments' names, each after the fragments it spreads (depth first, without
    recursion; a cycle is broken where it closes)."""
    spreads = {name: _spread_names(fragment.selection_set) for name, fragment in fragments.items()}
    order: list[str] = []
    seen: set[str] = set()
    for root in spreads:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(spreads[root]))]
        while stack:
            name, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                order.append(name)
            elif child in spreads and child not in seen:
                seen.add(child)
                stack.append((child, iter(spreads[child])))
    return order


def _spread_once(selections: Iterable[Any]) -> Iterable[Any]:
    """The selections with each fragment spread once: spreading it again adds no field."""
    spread: set[str] = set()
    for selection in selections:
        if isinstance(selection, FragmentSpreadNode):
            if selection.name.value in spread:
                continue
            spread.add(selection.name.value)
        yield selection


def operation_depth(document: DocumentNode) -> dict[OperationDefinitionNode, int]:
    """How deep each operation's fields go: a root field with sub-fields is 1 deep, and so on."""
    depth_of: _PerFragment[int]

    def depth(selection_set: SelectionSetNode | None) -> int:
        deepest = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                if selection.selection_set and not selection.name.value.startswith("__"):
                    deepest = max(deepest, 1 + depth(selection.selection_set))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, depth(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, depth_of(selection.name.value))
        return deepest

    depth_of = _PerFragment(_fragments(document), lambda f: depth(f.selection_set), 0)
    return {operation: depth(operation.selection_set) for operation in _operations(document)}


def alias_count(document: DocumentNode) -> int:
    """The aliased fields written in the document, each fragment's once."""
    count = 0
    pending: list[SelectionSetNode] = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode) and selection.alias:
                count += 1
            if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                pending.append(selection.selection_set)
    return count


def validation_rules(max_depth: int, max_aliases: int) -> list[type[ASTValidationRule]]:
    """The depth and alias limits as graphql-core validation rules (classes, built once per
    schema so the validation cache can hit)."""

    class DocumentLimits(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            for operation, depth in operation_depth(document).items():
                if depth > max_depth:
                    name = operation.name.value if operation.name else "anonymous"
                    context.report_error(
                        GraphQLError(
                            f"'{name}' exceeds maximum operation depth of {max_depth}",
                            operation,
                        )
                    )
            aliases = alias_count(document)
            if aliases > max_aliases:
                context.report_error(
                    GraphQLError(f"{aliases} aliases found. Allowed: {max_aliases}")
                )

    return [DocumentLimits]


def find_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    """The operation a request runs (None when the name does not pick exactly one: execution
    then refuses it)."""
    operations = _operations(document)
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    named = [o for o in operations if o.name and o.name.value == operation_name]
    return named[0] if len(named) == 1 else None


def mutation_fields(document: DocumentNode, operation: OperationDefinitionNode) -> int:
    """How many mutation fields `operation` runs (0 for a query or subscription)."""
    if operation.operation is not OperationType.MUTATION:
        return 0
    count_of: _PerFragment[int]

    def count(selection_set: SelectionSetNode) -> int:
        total = 0
        for selection in _spread_once(selection_set.selections):
            if isinstance(selection, FieldNode):
                total += selection.name.value != "__typename"
            elif isinstance(selection, InlineFragmentNode):
                total += count(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += count_of(selection.name.value)
        return total

    count_of = _PerFragment(_fragments(document), lambda f: count(f.selection_set), 0)
    return count(operation.selection_set)


@dataclass(frozen=True)
class _Cost:
    """The cost of a selection set: `fixed`, plus `per_item` for each item of the page when the
    selection is on a connection."""

    fixed: int = 0
    per_item: int = 0

    def __add__(self, other: "_Cost") -> "_Cost":
        return _Cost(self.fixed + other.fixed, self.per_item + other.per_item)

    def at(self, page: int) -> int:
        return self.fixed + page * self.per_item


class Cost:
    """The cost of operations over one schema (the module's docstring says how it counts)."""

    def __init__(self, schema: GraphQLSchema, max_page: int) -> None:
        self._schema = schema
        self._max_page = max_page

    def of(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, object] | None,
    ) -> int:
        root = self._schema.get_root_type(operation.operation)
        if root is None:
            return 0
        walk = _CostWalk(self._schema, self._max_page, document, operation, variables or {})
        return walk.selection(operation.selection_set, root).at(0)


class _CostWalk:
    """One operation's cost, with its variables: each fragment priced once."""

    def __init__(
        self,
        schema: GraphQLSchema,
        max_page: int,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, object],
    ) -> None:
        self._schema = schema
        self._max_page = max_page
        self._variables = variables
        self._defaults = {
            definition.variable.name.value: definition.default_value
            for definition in operation.variable_definitions or ()
        }
        self._fragment = _PerFragment(_fragments(document), self._fragment_cost, _Cost())

    def _fragment_cost(self, fragment: FragmentDefinitionNode) -> _Cost:
        on = self._schema.get_type(fragment.type_condition.name.value)
        return self.selection(fragment.selection_set, on) if on else _Cost()

    def selection(self, selection_set: SelectionSetNode, on: GraphQLNamedType) -> _Cost:
        total = _Cost()
        for selection in _spread_once(selection_set.selections):
            if isinstance(selection, FieldNode):
                total += self._field(selection, on)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self._schema.get_type(condition.name.value) if condition else on
                if inner is not None:
                    total += self.selection(selection.selection_set, inner)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment(selection.name.value)
        return total

    def _field(self, node: FieldNode, parent: GraphQLNamedType) -> _Cost:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, GraphQLObjectType):
            return _Cost()
        definition = parent.fields.get(name)
        if definition is None or node.selection_set is None:
            return _Cost()  # a leaf, or a field validation refuses
        returned = get_nullable_type(definition.type)
        named = get_named_type(returned)
        inner = self.selection(node.selection_set, named)
        page = 0
        if _is_connection(named):
            page = self._page(self._first(node), definition.args.get(_PAGE_ARGUMENT))
        one = 1 + inner.at(page)
        if not isinstance(returned, GraphQLList):
            return _Cost(fixed=one)
        if _is_connection(parent):  # its items: priced by the page the connection was asked
            return _Cost(per_item=one)
        return _Cost(fixed=NOMINAL_LIST_LENGTH * one)

    def _page(self, value: object, argument: GraphQLArgument | None) -> int:
        """How many items a connection can return: its `first`, or the argument's default,
        within 0..max_page (a `first` the field refuses costs only what it may return)."""
        if not isinstance(value, int) or isinstance(value, bool):
            value = argument.default_value if argument is not None else None
        if not isinstance(value, int):
            value = self._max_page
        return max(0, min(value, self._max_page))

    def _first(self, node: FieldNode) -> object:
        """The `first` argument's value as this request gives it, or None."""
        for argument in node.arguments or ():
            if argument.name.value != _PAGE_ARGUMENT:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                name = value.name.value
                if name in self._variables:
                    return self._variables[name]
                default = self._defaults.get(name)
                return int(default.value) if isinstance(default, IntValueNode) else None
        return None


def _is_connection(named: GraphQLNamedType) -> bool:
    """A connection in Relay's sense: a page of items with `pageInfo`."""
    return isinstance(named, GraphQLObjectType) and "pageInfo" in named.fields


class RequestLimits:
    """What a whole HTTP request may run, checked before any of it runs: its cost and its
    mutation fields, added up over aliases and the operations of a batch.

    A request's measure is remembered by its document, operation name and integer variables (the
    only values a cost depends on), so a client sending the same query again pays a look-up.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        max_page: int,
        max_cost: int,
        max_mutations: int,
        parse: Callable[[str], DocumentNode],
    ) -> None:
        self._cost = Cost(schema, max_page)
        self._parse = parse
        self.max_cost = max_cost
        self.max_mutations = max_mutations
        self._measured = lru_cache(maxsize=MEASURES_KEPT)(self._measure)

    def measure(self, query: object, operation_name: object, variables: object) -> tuple[int, int]:
        """The cost and the mutation fields of one operation (0, 0 for what is malformed, does
        not parse or pick no operation: execution answers those). The values come from the
        client as JSON: any type."""
        if not isinstance(query, str) or not isinstance(operation_name, str | None):
            return 0, 0
        given = variables if isinstance(variables, dict) else {}
        pages = tuple(sorted((k, n) for k, v in given.items() if (n := _whole(v)) is not None))
        if len(query) > MEASURED_QUERY_MAX_CHARS:
            return self._measure(query, operation_name, pages)
        return self._measured(query, operation_name, pages)

    def _measure(
        self, query: str, operation_name: str | None, pages: tuple[tuple[str, int], ...]
    ) -> tuple[int, int]:
        try:
            document = self._parse(query)
        except GraphQLError:
            return 0, 0
        operation = find_operation(document, operation_name)
        if operation is None:
            return 0, 0
        cost = self._cost.of(document, operation, dict(pages))
        return cost, mutation_fields(document, operation)

    def too_costly(self, cost: int) -> str | None:
        """Why a request of `cost` is refused, or None."""
        if cost <= self.max_cost:
            return None
        return (
            f"This request could return {cost} objects; at most {self.max_cost} are allowed. "
            "Ask for smaller pages (`first`), or fewer aliases or operations"
        )

    def too_many_mutations(self, mutations: int) -> str | None:
        if mutations <= self.max_mutations:
            return None
        return (
            f"This request runs {mutations} mutation fields; at most {self.max_mutations} may "
            "run in one request (aliases and batched operations count together)"
        )


def _whole(value: object) -> int | None:
    """A variable's value as GraphQL's `Int` takes it (5, and 5.0 too), or None."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if type(value) is int else None
