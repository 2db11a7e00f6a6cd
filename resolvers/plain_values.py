"""Completers of plain values: a field's whole value completed by closures compiled once per plan,
where every field under it is a plain read (an attribute, `__typename`) and every leaf a coercion.

A page of tasks is such a value: its nodes, their fields and their owner hold data, not
resolvers. graphql-core's way, and the plan's general way (`PlannedExecutor._complete`), still
make a path, test for awaitables and dispatch on the type of every one of its ~300 values;
a completer only reads and coerces. (Measured on the bench's `gql_list` in py-spy: completing the
page was a fifth of the request's CPU.)

A completer answers only the regular case. For anything else (a null where the type is non-null,
an exception as a value, a list that is not a `list`, `Undefined`, a value its coercion refuses)
it raises, and the caller completes the same value the general way, which reports the error at
its path and propagates the null exactly as graphql-core does. Reading attributes and coercing
leaves has no effects, so the failed attempt changes nothing but time.
"""

from collections.abc import Callable, Sequence
from typing import Any

from graphql.pyutils import Undefined

Complete = Callable[[Any], Any]  # a value to its completed form, or raises
Read = Callable[[Any], Any]  # a parent object to one field's completed value, or raises


class Irregular(Exception):
    """A value a completer leaves to the general way."""


def leaf(coerce: Complete, non_null: bool) -> Complete:
    """A leaf type's values, coerced by `coerce` (which raises for a value it refuses)."""

    def complete(value: Any) -> Any:
        if value is not None and value is not Undefined and not isinstance(value, Exception):
            return coerce(value)
        if value is None and not non_null:
            return None
        raise Irregular

    return complete


def object_of(fields: Sequence[tuple[str, Read]], non_null: bool) -> Complete:
    """An object type's values: a dict of each response key to its field's completed value, in
    the selection's order."""

    def complete(value: Any) -> Any:
        if value is not None and value is not Undefined and not isinstance(value, Exception):
            data = {}
            for key, read in fields:
                data[key] = read(value)
            return data
        if value is None and not non_null:
            return None
        raise Irregular

    return complete


def list_of(item: Complete, non_null: bool) -> Complete:
    """A list type's values, when a `list`; each item by `item`."""

    def complete(value: Any) -> Any:
        if type(value) is list:
            return [item(each) for each in value]
        if value is None and not non_null:
            return None
        raise Irregular

    return complete


def read_leaf(attribute: str, exact: type | None, complete_leaf: Complete) -> Read:
    """A leaf field read from its attribute: a value of exactly the type `exact` is its own
    completed value (as the built-in String and Boolean pass theirs), any other is completed by
    `complete_leaf`."""

    def read(source: Any) -> Any:
        value = getattr(source, attribute)
        return value if type(value) is exact else complete_leaf(value)

    return read


def read(attribute: str, complete: Complete) -> Read:
    """A field read from its attribute and completed by `complete`."""

    def read_attribute(source: Any) -> Any:
        return complete(getattr(source, attribute))

    return read_attribute


def typename(name: str) -> Read:
    """`__typename`: the parent's type name."""

    def read_typename(_source: Any) -> str:
        return name

    return read_typename
