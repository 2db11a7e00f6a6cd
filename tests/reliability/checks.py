"""Checks every answer must pass, whatever the request: used by the fuzzers and hostile tests."""

import re
from typing import Any

from schemathesis import Case, CheckContext, Response

# A bcrypt hash, a Python traceback, SQL or a driver name: none of these belongs in an answer.
HASH = re.compile(r"\$2[aby]\$\d\d\$|password_hash")
INTERNALS = re.compile(
    r"Traceback \(most recent call last\)|File \"/|sqlalchemy|psycopg|sqlite3|"
    r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b|\[SQL:|IntegrityError|OperationalError",
)


def leaks(status: int, body: str) -> list[str]:
    """What `body` reveals that it should not: hashes anywhere, internals in error answers."""
    found = [match.group(0) for match in HASH.finditer(body)]
    if status >= 400:
        found += [match.group(0) for match in INTERNALS.finditer(body)]
    return found


def missing_security_headers(path: str, headers: dict[str, str]) -> list[str]:
    """The API's headers that an answer under /api or /graphql lacks."""
    lowered = {name.lower(): value for name, value in headers.items()}
    wanted = {"x-content-type-options": "nosniff"}
    if path.startswith(("/api", "/graphql")):
        wanted["cache-control"] = "no-store"
    return [f"{name}: {value}" for name, value in wanted.items() if lowered.get(name) != value]


def no_leaked_internals(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    found = leaks(response.status_code, response.text)
    assert not found, f"the answer reveals {found}: {response.text[:500]}"
    return None


def api_security_headers(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    headers = {name: values[0] for name, values in response.headers.items()}
    missing = missing_security_headers(case.path, headers)
    assert not missing, f"missing headers {missing} on {case.method} {case.path}"
    return None


# The codes a client may meet in normal operation (SERVICE_UNAVAILABLE only in an outage, and
# INTERNAL_SERVER_ERROR never).
GRAPHQL_CODES = {"UNAUTHENTICATED", "NOT_FOUND", "BAD_USER_INPUT", "RATE_LIMITED"}


def unexpected_graphql_errors(payload: object) -> list[object]:
    """The errors of a GraphQL answer (or of each answer of a batch) that carry no expected
    `extensions.code`."""
    answers = payload if isinstance(payload, list) else [payload]
    found: list[object] = []
    for answer in answers:
        if not isinstance(answer, dict):
            found.append(answer)
            continue
        for error in answer.get("errors") or []:
            code = (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None
            if code not in GRAPHQL_CODES:
                found.append(error)
    return found


def graphql_errors_are_expected(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    assert response.status_code < 500, f"status {response.status_code}: {response.text[:500]}"
    unexpected = unexpected_graphql_errors(response.json())
    assert not unexpected, f"unexpected GraphQL errors: {unexpected}"
    return None
