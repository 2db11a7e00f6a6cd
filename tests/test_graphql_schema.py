"""The served GraphQL schema: committed, current, and a superset of the contract's."""

import re
from pathlib import Path

import pytest
from graphql import (
    DocumentNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    build_ast_schema,
    build_schema,
    parse,
)
from graphql.pyutils import Undefined

from resolvers.schema import export_sdl

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_SDL = ROOT / "tests" / "contract" / "schema.graphql"
# The contract's second block ("The rest of the schema"): additions, partly `extend`s.
ADDITIONS_SDL = ROOT / "tests" / "contract" / "schema_additions.graphql"
CONTRACT_MD = ROOT.parent / "shared" / "CONTRACT.md"


def test_committed_sdl_is_current() -> None:
    committed = (ROOT / "schema" / "schema.graphql").read_text()
    assert committed == export_sdl(), "run `python -m resolvers` to refresh schema/schema.graphql"


def _graphql_blocks(text: str) -> list[str]:
    blocks, start = [], 0
    while (found := text.find("```graphql\n", start)) != -1:
        start = found + len("```graphql\n")
        blocks.append(text[start : text.index("```", start)])
    return blocks


def test_contract_copies_match_the_contract() -> None:
    if not CONTRACT_MD.exists():
        pytest.skip("../shared/CONTRACT.md is not beside this checkout")
    blocks = _graphql_blocks(CONTRACT_MD.read_text())
    assert [CONTRACT_SDL.read_text(), ADDITIONS_SDL.read_text()] == blocks[:2]


def _check_type(served: GraphQLNamedType, wanted: GraphQLNamedType) -> list[str]:
    problems = []
    if type(served) is not type(wanted):
        return [f"{wanted.name} is a {type(served).__name__}, not a {type(wanted).__name__}"]
    if isinstance(wanted, GraphQLEnumType):
        assert isinstance(served, GraphQLEnumType)
        missing = set(wanted.values) - set(served.values)
        problems += [f"{wanted.name}.{value} is missing" for value in sorted(missing)]
    if isinstance(wanted, GraphQLObjectType | GraphQLInputObjectType):
        assert isinstance(served, GraphQLObjectType | GraphQLInputObjectType)
        for name, field in wanted.fields.items():
            here = served.fields.get(name)
            if here is None:
                problems.append(f"{wanted.name}.{name} is missing")
                continue
            if str(here.type) != str(field.type):
                problems.append(f"{wanted.name}.{name} is {here.type}, not {field.type}")
            if isinstance(wanted, GraphQLInputObjectType):
                if here.default_value != field.default_value:
                    problems.append(f"{wanted.name}.{name} default differs")
                continue
            for arg_name, arg in field.args.items():
                served_arg = here.args.get(arg_name)
                if served_arg is None:
                    problems.append(f"{wanted.name}.{name}({arg_name}) is missing")
                elif str(served_arg.type) != str(arg.type):
                    problems.append(f"{wanted.name}.{name}({arg_name}) is {served_arg.type}")
                elif arg.default_value is not Undefined and served_arg.default_value != (
                    arg.default_value
                ):
                    problems.append(f"{wanted.name}.{name}({arg_name}) default differs")
    return problems


def _missing_from_served(contract: GraphQLSchema) -> list[str]:
    """What the served schema lacks of `contract`'s types, fields and arguments."""
    served: GraphQLSchema = build_schema(export_sdl())
    problems = []
    for name, wanted in contract.type_map.items():
        if name.startswith("__"):
            continue
        if name not in served.type_map:
            problems.append(f"type {name} is missing")
            continue
        problems += _check_type(served.type_map[name], wanted)
    return problems


def test_served_schema_contains_the_contract() -> None:
    assert _missing_from_served(build_schema(CONTRACT_SDL.read_text())) == []


def _additions() -> GraphQLSchema:
    """The additions as a schema: each `extend` read as the type's added fields alone, beside
    the first block's other types (which the additions refer to)."""
    additions = re.sub(r"^extend (type|input) ", r"\1 ", ADDITIONS_SDL.read_text(), flags=re.M)
    added = {definition.name.value for definition in parse(additions).definitions}  # type: ignore[attr-defined]
    kept = [
        definition
        for definition in parse(CONTRACT_SDL.read_text()).definitions
        if definition.name.value not in added  # type: ignore[attr-defined]
    ]
    return build_ast_schema(DocumentNode(definitions=(*kept, *parse(additions).definitions)))


def test_served_schema_contains_the_contracts_additions() -> None:
    assert _missing_from_served(_additions()) == []


def test_the_comparison_notices_a_difference() -> None:
    wanted = build_schema("type Query { tasks(first: Int = 50): [Int!]! }")
    served = build_schema("type Query { tasks(first: Int! = 50): [Int!]! }")
    assert _check_type(served.type_map["Query"], wanted.type_map["Query"]) == [
        "Query.tasks(first) is Int!"
    ]
