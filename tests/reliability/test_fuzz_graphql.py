"""Fuzzing the GraphQL API from its own schema (by introspection), in process, with a fixed seed.

Every query and mutation field gets a bounded number of generated operations, sent as a
logged-in user to the real app on each test database. No answer may be a 5xx or an
INTERNAL_SERVER_ERROR, each must match the schema, and none may leak internals.
"""

from typing import Any

import schemathesis
from fastapi import FastAPI
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.reliability.checks import (
    api_security_headers,
    graphql_errors_are_expected,
    no_leaked_internals,
)
from tests.reliability.fuzzing import FUZZ, document_app
from tests.support import Account

CHECKS = [
    graphql_errors_are_expected,  # in place of not_a_server_error, which counts domain errors
    response_schema_conformance,
    no_leaked_internals,
    api_security_headers,
]

schema = schemathesis.graphql.from_asgi("/graphql", document_app())


@schema.parametrize()
@FUZZ
def test_graphql_field_answers_as_its_schema_says(
    case: schemathesis.Case[Any], target: FastAPI, alice: Account
) -> None:
    case.call_and_validate(app=target, headers=alice.headers, checks=CHECKS)
