"""Fuzzing the REST API from its own OpenAPI document, in process, with a fixed seed.

Every operation gets a bounded number of generated requests (valid and invalid, from the
schemas), sent as a logged-in user to the real app on each test database. Each answer must be
documented (status code, content type, headers, body schema), never a 5xx, never leak internals,
and carry the API's security headers; operations that need a token must refuse a request without.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_app
from app.settings import Settings
from tests.conftest import TEST_SECRET
from tests.reliability.checks import api_security_headers, no_leaked_internals
from tests.support import Account, create_task

FUZZ = settings(
    max_examples=25,
    derandomize=True,  # a fixed seed: the same requests on every run and every machine
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
    no_leaked_internals,
    api_security_headers,
]

# The document does not depend on the database: load it once from an app that never connects.
_DOCUMENT_APP = create_app(
    Settings(database_url="sqlite://", jwt_secret=TEST_SECRET, bcrypt_rounds=4, _env_file=None)
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _DOCUMENT_APP)


@pytest.fixture
def target(app: FastAPI, client: TestClient, alice: Account) -> Iterator[FastAPI]:
    """The app on the test's database, with a few tasks so that some generated ids exist."""
    for index in range(3):
        create_task(client, alice, f"seed {index}")
    yield app
    # A started lifespan keeps its app (and engine) until exit; end it with the test.
    shutdown_lifespans()


@schema.parametrize()
@FUZZ
def test_rest_operation_answers_as_documented(
    case: schemathesis.Case[Any], target: FastAPI, alice: Account
) -> None:
    case.call_and_validate(app=target, headers=alice.headers, checks=CHECKS)
