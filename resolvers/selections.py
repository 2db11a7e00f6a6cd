"""Which of a task's fields a query reads in a page (`nodes { ... }`, `edges { node { ... } }`),
and which of their owner's: a page selects only their columns (and those its cursors need), as
PostGraphile selects what a query asks for.

A column the query does not read still costs, every row: the database formats it, the driver
parses it, its type converts it (three timestamps, an array, an enum), and a dict and the task
type carry it. The bench's page reads four of ten fields of 50 tasks: its unit of database work
took 163 us of CPU selecting all ten, 97 selecting the four (in process on PostgreSQL, medians
of 7 rounds of 500). Reading the fields off the document costs 3.4 us.

The fields are read off the document: the page field's selections, through named and inline
fragments, whatever their directives say (`@include`/`@skip` decide per request; reading every
field they might keep is a superset, so never too few). The tasks of a page built this way lack
the fields not asked for: nothing reads them, since nothing was asked of them.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from app.services.listing import OWNER_FIELDS
from app.services.task_table import TRASH_FIELDS

# The Task type's fields that are columns, and the User type's fields a page reads for their
# `owner`, by their GraphQL names (the schema's names are the Python ones in camel case;
# `tests/test_graphql_page_fields.py` holds these to the schema).
COLUMN_FIELDS = {to_camel_case(name): name for name in TRASH_FIELDS}
OWNER_COLUMN_FIELDS = {to_camel_case(name): name for name in OWNER_FIELDS}


@dataclass(frozen=True)
class PageFields:
    """What a page's query reads, by Python names: of its tasks, and of their owner."""

    tasks: frozenset[str]
    owner: frozenset[str]


def page_fields(info: Info) -> PageFields:
    """The fields the query reads of the tasks of the page it asks for with `info`'s field, and
    of their owner."""
    raw = info._raw_info  # graphql-core's info, which Strawberry's wraps: nodes and fragments
    fragments = raw.fragments
    page = list(_fields(_selection_sets(raw.field_nodes), fragments))
    edges = [each for each in page if each.name.value == "edges"]
    in_edges = _fields(_selection_sets(edges), fragments)
    tasks = [each for each in page if each.name.value == "nodes"]
    tasks += [each for each in in_edges if each.name.value == "node"]
    of_tasks = list(_fields(_selection_sets(tasks), fragments))
    owners = [each for each in of_tasks if each.name.value == "owner"]
    of_owner = {each.name.value for each in _fields(_selection_sets(owners), fragments)}
    return PageFields(
        tasks=_named(COLUMN_FIELDS, {each.name.value for each in of_tasks}),
        owner=_named(OWNER_COLUMN_FIELDS, of_owner),
    )


def _named(fields: dict[str, str], read: set[str]) -> frozenset[str]:
    """The Python names of the `fields` (by GraphQL name) among those `read`."""
    return frozenset(fields[name] for name in read if name in fields)


def _selection_sets(fields: Iterable[FieldNode]) -> list[SelectionSetNode | None]:
    return [each.selection_set for each in fields]


def _fields(
    selection_sets: Iterable[SelectionSetNode | None],
    fragments: dict[str, FragmentDefinitionNode],
) -> Iterator[FieldNode]:
    """The fields the selection sets select, through their fragments: each named fragment once
    (as graphql-core collects fields), so the walk is as long as the document, however often a
    fragment is spread (a fragment spreading another twice, 30 deep, would be 2**30 walks)."""
    expanded: set[str] = set()
    pending = list(selection_sets)
    while pending:
        selection_set = pending.pop()
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in expanded:
                    expanded.add(name)
                    pending.append(fragments[name].selection_set)
