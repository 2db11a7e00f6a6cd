"""Fuzzing the REST API from its own OpenAPI document, in process, with a fixed seed.

Every operation gets a bounded number of generated requests (valid and invalid, from the
schemas), sent as a logged-in user to the real app on each test database. Each answer must be
documented (status code, content type, headers, body schema), never a 5xx, never leak internals,
and carry the API's security headers; operations that need a token must refuse a request without.
"""

from typing import Any

import schemathesis
from fastapi import FastAPI
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.reliability.checks import api_security_headers, no_leaked_internals
from tests.reliability.fuzzing import FUZZ, document_app
from tests.support import Account

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

schema = schemathesis.openapi.from_asgi("/openapi.json", document_app())


@schema.parametrize()
@FUZZ
def test_rest_operation_answers_as_documented(
    case: schemathesis.Case[Any], target: FastAPI, alice: Account
) -> None:
    case.call_and_validate(app=target, headers=alice.headers, checks=CHECKS)
