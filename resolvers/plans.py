"""Queries executed from compiled plans: what graphql-core works out for every value, worked out
once per operation.

graphql-core completes each value of a response through its general machinery: it looks the
field up, builds a resolve info, calls the field's resolver (Strawberry's wrapper, which reads
an attribute), checks whether the result is awaitable, and dispatches on its type, for every
one of the ~300 values of a page. For a validated query most of that is the same on every
request. A plan records it once, per (operation, values of the variables its `@include`/`@skip`
read): the fields each object's selection collects (graphql-core's own `collect_fields`, so
merging, fragments and directives are its), which of them are plain reads of an attribute, how
each leaf is coerced, and which types are non-null. Executing a plan calls the same resolvers,
with the same arguments and resolve infos, wherever a field has one; it only skips the
bookkeeping around plain values.

Errors are graphql-core's: a field's error goes through the executor's own
`handle_field_error` (located at the same path, null propagated to the nearest nullable
parent, collected in the same order), and a value the plan has no fast way for (a list that is
not a `list`, an unusual leaf) is completed by graphql-core's own `complete_value`. Only query
operations are planned; mutations (serial, a handful of values) and subscriptions run through
graphql-core as before, as do introspection (`__schema`, `__type`), operations under resolver
middleware, and operations whose variants of one document exceed `VARIANTS_KEPT`.
`tests/test_graphql_plans.py` holds the two executors to the same bytes.
"""

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from graphql import (
    DirectiveNode,
    FieldNode,
    GraphQLBoolean,
    GraphQLField,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
)
from graphql.execution.collect_fields import FieldDetails, GroupedFieldSet, collect_subfields
from graphql.execution.executor import Executor
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from resolvers import plain_values

OPERATIONS_KEPT = 256  # as many as the parser and validation caches keep documents
VARIANTS_KEPT = 16  # per operation: `@include`/`@skip` over four variables
INTROSPECTION = frozenset({"__schema", "__type"})
INT_RANGE = range(-(2**31), 2**31)  # GraphQL's Int: 32 bits
EXACT: dict[GraphQLOutputType, type] = {GraphQLString: str, GraphQLBoolean: bool}

Coerce = Callable[[Any], Any]
FieldDetailsList = list[FieldDetails]
Values = dict[str, Any] | list[Any]  # a completed object, or a completed list
V = TypeVar("V", dict[str, Any], list[Any])


def _exactly(kind: type, leaf: GraphQLLeafType) -> Coerce:
    """A value of exactly `kind` passes as is; anything else is coerced by graphql-core."""

    def coerce(value: Any) -> Any:
        return value if type(value) is kind else Executor.complete_leaf_value(leaf, value)

    return coerce


def _int(value: Any) -> Any:
    if type(value) is int and value in INT_RANGE:
        return value
    return Executor.complete_leaf_value(GraphQLInt, value)


def _coercion(leaf: GraphQLLeafType) -> Coerce:
    """How a leaf type's values are coerced: a shortcut for the built-in scalars' own values
    (what their `coerce_output_value` returns unchanged), graphql-core's coercion otherwise."""
    if (kind := EXACT.get(leaf)) is not None:
        return _exactly(kind, leaf)
    if leaf is GraphQLInt:
        return _int

    def coerce(value: Any) -> Any:
        return Executor.complete_leaf_value(leaf, value)

    return coerce


@dataclass
class Shape:
    """How a value of one output type completes: `kind` is "leaf", "object", "list" or
    "other" (left to graphql-core); `type` is the whole type, non-null wrapper included."""

    type: GraphQLOutputType
    non_null: bool
    kind: str
    coerce: Coerce | None = None
    object_type: GraphQLObjectType | None = None
    item: "Shape | None" = None

    @classmethod
    def of(cls, output: GraphQLOutputType) -> "Shape":
        nullable = output.of_type if isinstance(output, GraphQLNonNull) else output
        non_null = nullable is not output
        if isinstance(nullable, GraphQLList):
            return cls(output, non_null, "list", item=cls.of(nullable.of_type))
        if isinstance(nullable, GraphQLObjectType) and nullable.is_type_of is None:
            return cls(output, non_null, "object", object_type=nullable)
        if isinstance(nullable, GraphQLLeafType):
            return cls(output, non_null, "leaf", coerce=_coercion(nullable))
        return cls(output, non_null, "other")  # abstract types, and objects with is_type_of

    @property
    def nullable_type(self) -> GraphQLOutputType:
        return self.type.of_type if isinstance(self.type, GraphQLNonNull) else self.type


# How a field's value is found, in the order `_complete_object` tests for them.
READ_LEAF, READ, TYPENAME, RESOLVE = range(4)


@dataclass(slots=True)
class FieldPlan:
    """One response key of an object's selection: where its value comes from and its shape.

    `attribute` is set for a plain read (a Strawberry field without resolver: READ_LEAF for a
    leaf type, else READ), `typename` for `__typename` (TYPENAME); otherwise (RESOLVE)
    `definition.resolve` is called as graphql-core calls it. `exact` is the Python type whose
    values a leaf passes unchanged (`str` for String, `bool` for Boolean)."""

    key: str
    parent: GraphQLObjectType
    definition: GraphQLField
    details: FieldDetailsList
    shape: Shape
    how: int = RESOLVE
    attribute: str = ""
    typename: str = ""
    exact: type | None = None
    null_message: str = ""
    selection: "Selection | None" = None
    plain: plain_values.Complete | None = None  # the whole value's completer, when it is plain
    plain_known: bool = False  # whether `plain` has been worked out
    nodes: list[FieldNode] = field(init=False)  # the details' nodes, as resolve infos carry them

    def __post_init__(self) -> None:
        self.nodes = [each.node for each in self.details]


@dataclass
class Selection:
    """The fields an object's selection set collects, in graphql-core's order."""

    fields: list[FieldPlan]


@dataclass
class OperationPlans:
    """The plans of one operation, one per combination of its directives' variables."""

    operation: OperationDefinitionNode  # held, so that its id is not reused while cached
    directive_variables: tuple[str, ...]
    variants: dict[tuple[Any, ...], Selection] = field(default_factory=dict)


class Plans:
    """The bounded cache of plans, one per schema (an attacker's stream of new documents evicts
    the oldest, as in the parser's and validation's caches)."""

    def __init__(self, maxsize: int = OPERATIONS_KEPT) -> None:
        self.maxsize = maxsize
        self._operations: OrderedDict[int, OperationPlans] = OrderedDict()

    def __len__(self) -> int:
        return len(self._operations)

    def of(self, executor: "PlannedExecutor") -> OperationPlans:
        operation = executor.operation
        plans = self._operations.get(id(operation))
        if plans is not None and plans.operation is operation:
            self._operations.move_to_end(id(operation))
            return plans
        plans = OperationPlans(operation, _directive_variables(executor))
        self._operations[id(operation)] = plans
        if len(self._operations) > self.maxsize:
            self._operations.popitem(last=False)
        return plans


def _directive_variables(executor: "PlannedExecutor") -> tuple[str, ...]:
    """The variables any directive of the operation or its fragments reads: the field sets
    graphql-core collects depend on them, and on nothing else of the request."""
    names: set[str] = set()

    def walk(selection_set: SelectionSetNode | None) -> None:
        for selection in selection_set.selections if selection_set else ():
            names.update(_variables_of(selection.directives or ()))
            if isinstance(selection, FieldNode | InlineFragmentNode):
                walk(selection.selection_set)

    walk(executor.operation.selection_set)
    for fragment in executor.fragment_definitions.values():
        walk(fragment.selection_set)
    return tuple(sorted(names))


def _variables_of(directives: Collection[DirectiveNode]) -> Iterator[str]:
    for directive in directives:
        for argument in directive.arguments or ():
            if isinstance(argument.value, VariableNode):
                yield argument.value.name.value


class PlannedExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, running query operations from `Plans` (given by the schema)."""

    def __init__(self, *args: Any, plans: Plans | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plans = plans

    def execute_root_grouped_field_set(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
        position_context: Any,
    ) -> Any:
        root = self._root_plan(root_type, grouped_field_set, serially)
        if root is None:
            return super().execute_root_grouped_field_set(
                root_type, root_value, grouped_field_set, serially, position_context
            )
        return self._complete_object(root, root_value, None)

    def _root_plan(
        self,
        root_type: GraphQLObjectType,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
    ) -> Selection | None:
        """The root's plan, compiled at first sight; None where graphql-core runs as before."""
        if (
            self.plans is None
            or serially
            or self.operation.operation is not OperationType.QUERY
            or self.abort_signal is not None
            or (self.middleware_manager and self.middleware_manager.middlewares)
            or any(
                details.node.name.value in INTROSPECTION or details.fragment_variable_values
                for group in grouped_field_set.values()
                for details in group
            )
        ):
            return None
        plans = self.plans.of(self)
        coerced = self.variable_values.coerced
        variant = tuple(coerced.get(name) for name in plans.directive_variables)
        root = plans.variants.get(variant)
        if root is None:
            if len(plans.variants) >= VARIANTS_KEPT:
                return None
            root = plans.variants[variant] = self._selection(root_type, grouped_field_set)
        return root

    def _selection(
        self, parent: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> Selection:
        return Selection(
            [self._field(parent, key, group) for key, group in grouped_field_set.items()]
        )

    def _field(self, parent: GraphQLObjectType, key: str, details: FieldDetailsList) -> FieldPlan:
        name = details[0].node.name.value
        definition = self.schema.get_field(parent, name)
        assert definition is not None, "a validated document names only the schema's fields"
        plan = FieldPlan(
            key,
            parent,
            definition,
            details,
            Shape.of(definition.type),
            null_message=f"Cannot return null for non-nullable field {parent.name}.{name}.",
        )
        if name == "__typename":
            plan.how, plan.typename = TYPENAME, parent.name
        elif getattr(definition.resolve, "_is_default", False):
            strawberry_field = definition.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
            if strawberry_field.default_resolver is getattr:
                plan.how = READ_LEAF if plan.shape.kind == "leaf" else READ
                plan.attribute = strawberry_field.python_name
                plan.exact = EXACT.get(plan.shape.nullable_type)
        return plan

    def _subselection(self, field_plan: FieldPlan, object_type: GraphQLObjectType) -> Selection:
        """The fields of `field_plan`'s objects, collected at first need (as graphql-core
        collects them only for a value that is there)."""
        if field_plan.selection is None:
            collected = collect_subfields(
                self.schema,
                self.fragments,
                self.variable_values,
                self.operation,
                object_type,
                field_plan.details,
                self.hide_suggestions,
            )
            field_plan.selection = self._selection(object_type, collected.grouped_field_set)
        return field_plan.selection

    def _plain(self, plan: FieldPlan) -> plain_values.Complete | None:
        """The completer of `plan`'s whole value, when every field under it is a plain read
        (see `plain_values`); else None. Worked out once per plan, its sub-plans with it."""
        if not plan.plain_known:
            plan.plain = self._plain_shape(plan, plan.shape)
            plan.plain_known = True
        return plan.plain

    def _plain_shape(self, plan: FieldPlan, shape: Shape) -> plain_values.Complete | None:
        if shape.kind == "leaf":
            assert shape.coerce is not None
            return plain_values.leaf(shape.coerce, shape.non_null)
        if shape.kind == "list":
            assert shape.item is not None
            item = self._plain_shape(plan, shape.item)
            return None if item is None else plain_values.list_of(item, shape.non_null)
        if shape.kind != "object":
            return None
        assert shape.object_type is not None
        fields: list[tuple[str, plain_values.Read]] = []
        for each in self._subselection(plan, shape.object_type).fields:
            read: plain_values.Read
            if each.how == TYPENAME:
                read = plain_values.typename(each.typename)
            elif each.how == RESOLVE or (complete := self._plain(each)) is None:
                return None
            elif each.how == READ_LEAF:
                read = plain_values.read_leaf(each.attribute, each.exact, complete)
            else:
                read = plain_values.read(each.attribute, complete)
            fields.append((each.key, read))
        return plain_values.object_of(fields, shape.non_null)

    # Execution: graphql-core's `execute_fields`, `execute_field` and `complete_value`, for
    # what a plan knows ahead.

    def _complete_object(self, selection: Selection, source: Any, path: Path | None) -> Any:
        data: dict[str, Any] = {}
        pending: list[str] = []
        try:
            for plan in selection.fields:
                how = plan.how
                if how == READ_LEAF:
                    try:
                        value = getattr(source, plan.attribute)
                        data[plan.key] = (
                            value
                            if type(value) is plan.exact
                            else self._complete(plan, plan.shape, value, path, None)
                        )
                    except Exception as error:
                        field_path = Path(path, plan.key, plan.parent.name)
                        self.handle_field_error(error, plan.shape.type, plan.details, field_path)
                        data[plan.key] = None
                    continue
                if how == TYPENAME:
                    data[plan.key] = plan.typename
                    continue
                if how == READ:
                    data[plan.key] = value = self._read(plan, source, path)
                else:
                    data[plan.key] = value = self._resolve(plan, source, path)
                if self.is_awaitable(value):
                    pending.append(plan.key)
        except Exception:
            self._settle_abandoned(data, pending)
            raise
        return _filled(data, pending) if pending else data

    def _read(self, plan: FieldPlan, source: Any, parent: Path | None) -> Any:
        """A plain field of an object, list or other type: its attribute, completed; errors as
        graphql-core handles them. The attribute is data, never awaitable: Strawberry types here
        hold plain values."""
        try:
            completed = self._complete(
                plan, plan.shape, getattr(source, plan.attribute), parent, None
            )
        except Exception as error:
            path = Path(parent, plan.key, plan.parent.name)
            self.handle_field_error(error, plan.definition.type, plan.details, path)
            return None
        if not self.is_awaitable(completed):
            return completed
        path = Path(parent, plan.key, plan.parent.name)
        return self._complete_later(plan, plan.shape, completed, path, resolved=True)

    def _resolve(self, plan: FieldPlan, source: Any, parent: Path | None) -> Any:
        """A field with a resolver: called with the resolve info and arguments graphql-core
        would give it."""
        path = Path(parent, plan.key, plan.parent.name)
        definition = plan.definition
        info = self.build_resolve_info(definition, plan.nodes, plan.parent, path)
        try:
            first = plan.details[0]
            arguments = (
                get_argument_values(
                    definition,
                    first.node,
                    self.variable_values,
                    first.fragment_variable_values,
                    self.hide_suggestions,
                )
                if definition.args or first.node.arguments
                else {}
            )
            resolve = definition.resolve or self.field_resolver
            result = resolve(source, info, **arguments)
            if self.is_awaitable(result):
                return self._complete_later(plan, plan.shape, result, path)
            completed = self._complete(plan, plan.shape, result, parent, path)
            if self.is_awaitable(completed):
                return self._complete_later(plan, plan.shape, completed, path, resolved=True)
        except Exception as error:
            self.handle_field_error(error, definition.type, plan.details, path)
            return None
        return completed

    async def _complete_later(
        self,
        plan: FieldPlan,
        shape: Shape,
        result: Awaitable[Any],
        path: Path,
        *,
        resolved: bool = False,
    ) -> Any:
        """graphql-core's `complete_awaitable_value` (the resolver's result awaited, then
        completed) or, when `resolved`, its awaiting of an object's pending fields."""
        try:
            value = await result
            if resolved:
                return value
            completed = self._complete(plan, shape, value, path.prev, path)
            if self.is_awaitable(completed):
                completed = await completed
        except Exception as error:
            self.handle_field_error(error, shape.type, plan.details, path)
            return None
        return completed

    def _complete(
        self, plan: FieldPlan, shape: Shape, value: Any, parent: Path | None, path: Path | None
    ) -> Any:
        """graphql-core's `complete_value`. `path` is the value's own, made only when needed:
        `parent` and the plan's key give it. A field's plain value is completed by its plain
        completer; whatever that leaves (an error, a null to propagate) is completed here."""
        if shape is plan.shape and (plain := self._plain(plan)) is not None:
            try:
                return plain(value)
            except Exception:  # noqa: S110  # irregular: completed below, its error reported there
                pass
        if isinstance(value, Exception):
            raise value
        if shape.non_null:
            completed = self._complete_nullable(plan, shape, value, parent, path)
            if completed is None:
                raise TypeError(plan.null_message)
            return completed
        return self._complete_nullable(plan, shape, value, parent, path)

    def _complete_nullable(
        self, plan: FieldPlan, shape: Shape, value: Any, parent: Path | None, path: Path | None
    ) -> Any:
        if value is None or value is Undefined:
            return None
        kind = shape.kind
        if kind == "leaf":
            return shape.coerce(value)  # type: ignore[misc]
        path = path or Path(parent, plan.key, plan.parent.name)
        if kind == "object":
            assert shape.object_type is not None
            return self._complete_object(self._subselection(plan, shape.object_type), value, path)
        if kind == "list" and type(value) is list:
            return self._complete_list(plan, shape.item, value, path)  # type: ignore[arg-type]
        info = self.build_resolve_info(plan.definition, plan.nodes, plan.parent, path)
        return self.complete_value(shape.nullable_type, plan.details, info, path, value, None)

    def _complete_list(self, plan: FieldPlan, item: Shape, values: list[Any], path: Path) -> Any:
        """graphql-core's `complete_iterable_value` over a list."""
        completed: list[Any] = []
        pending: list[int] = []
        try:
            for index, value in enumerate(values):
                item_path = Path(path, index, None)
                if self.is_awaitable(value):
                    completed.append(self._complete_later(plan, item, value, item_path))
                    pending.append(index)
                    continue
                try:
                    done = self._complete(plan, item, value, path, item_path)
                except Exception as error:
                    self.handle_field_error(error, item.type, plan.details, item_path)
                    done = None
                if self.is_awaitable(done):
                    done = self._complete_later(plan, item, done, item_path, resolved=True)
                    pending.append(index)
                completed.append(done)
        except Exception:
            self._settle_abandoned(completed, pending)
            raise
        return _filled(completed, pending) if pending else completed

    def _settle_abandoned(self, values: Values, pending: list[Any]) -> None:
        """An error left `values` unfinished: its awaitables are settled in the background, as
        graphql-core's `execute_fields` and `complete_iterable_value` leave theirs."""
        if pending:
            self.settle_in_background([values[key] for key in pending])


async def _filled(values: V, pending: list[Any]) -> V:
    """`values` (an object's fields or a list's items) once the awaitables at `pending` have
    been awaited in its place: one awaited directly, several together, as graphql-core does."""
    if len(pending) == 1:
        values[pending[0]] = await values[pending[0]]
    else:
        awaited = await gather_with_cancel(*(values[key] for key in pending))
        for key, value in zip(pending, awaited, strict=True):
            values[key] = value
    return values
