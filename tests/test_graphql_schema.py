"""The served GraphQL schema: committed, current, and a superset of the contract's."""

from pathlib import Path

import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
)
from graphql.pyutils import Undefined

from resolvers.schema import export_sdl

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_SDL = ROOT / "tests" / "contract" / "schema.graphql"
CONTRACT_MD = ROOT.parent / "shared" / "CONTRACT.md"


def test_committed_sdl_is_current() -> None:
    committed = (ROOT / "schema" / "schema.graphql").read_text()
    assert committed == export_sdl(), "run `python -m resolvers` to refresh schema/schema.graphql"


def test_contract_copy_matches_the_contract() -> None:
    if not CONTRACT_MD.exists():
        pytest.skip("../shared/CONTRACT.md is not beside this checkout")
    text = CONTRACT_MD.read_text()
    start = text.index("```graphql\n") + len("```graphql\n")
    assert CONTRACT_SDL.read_text() == text[start : text.index("```", start)]


def _check_type(served: GraphQLNamedType, wanted: GraphQLNamedType) -> list[str]:
    problems = []
    if type(served) is not type(wanted):
        return [f"{wanted.name} is a {type(served).__name__}, not a {type(wanted).__name__}"]
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


def test_served_schema_contains_the_contract() -> None:
    served: GraphQLSchema = build_schema(export_sdl())
    contract: GraphQLSchema = build_schema(CONTRACT_SDL.read_text())
    problems = []
    for name, wanted in contract.type_map.items():
        if name.startswith("__"):
            continue
        if name not in served.type_map:
            problems.append(f"type {name} is missing")
            continue
        problems += _check_type(served.type_map[name], wanted)
    assert problems == []


def test_the_comparison_notices_a_difference() -> None:
    wanted = build_schema("type Query { tasks(first: Int = 50): [Int!]! }")
    served = build_schema("type Query { tasks(first: Int! = 50): [Int!]! }")
    assert _check_type(served.type_map["Query"], wanted.type_map["Query"]) == [
        "Query.tasks(first) is Int!"
    ]
