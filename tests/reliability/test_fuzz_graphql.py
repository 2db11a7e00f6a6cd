"""Fuzzing the GraphQL API from its own schema (by introspection), in process, with a fixed seed.

Every query and mutation field gets a bounded number of generated operations, sent as a
logged-in user to the real app on each test database. No answer may be a 5xx or an
INTERNAL_SERVER_ERROR, each must match the schema, and none may leak internals.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.main import create_app
from app.settings import Settings
from tests.conftest import TEST_SECRET
from tests.reliability.checks import (
    api_security_headers,
    graphql_errors_are_expected,
    no_leaked_internals,
)
from tests.support import Account, create_task

FUZZ = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
CHECKS = [
    graphql_errors_are_expected,  # in place of not_a_server_error, which counts domain errors
    response_schema_conformance,
    no_leaked_internals,
    api_security_headers,
]

_DOCUMENT_APP = create_app(
    Settings(database_url="sqlite://", jwt_secret=TEST_SECRET, bcrypt_rounds=4, _env_file=None)
)
schema = schemathesis.graphql.from_asgi("/graphql", _DOCUMENT_APP)


@pytest.fixture
def target(app: FastAPI, client: TestClient, alice: Account) -> Iterator[FastAPI]:
    for index in range(3):
        create_task(client, alice, f"seed {index}")
    yield app
    # A started lifespan keeps its app (and engine) until exit; end it with the test.
    shutdown_lifespans()


@schema.parametrize()
@FUZZ
def test_graphql_field_answers_as_its_schema_says(
    case: schemathesis.Case[Any], target: FastAPI, alice: Account
) -> None:
    case.call_and_validate(app=target, headers=alice.headers, checks=CHECKS)
