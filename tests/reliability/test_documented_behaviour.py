"""The REST API does what its OpenAPI document says, at the places where it once did not.

Each of these was found by schemathesis' stricter checks (negative_data_rejection,
positive_data_acceptance, allow_header_conformance) and is kept here as one plain example.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import Account, create_task


@pytest.fixture
def spec(client: TestClient) -> Any:
    return client.get("/openapi.json").json()


def test_a_405_lists_every_method_the_resource_allows(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "one")
    response = client.post(f"/api/tasks/{task['id']}", headers=alice.headers)
    assert response.status_code == 405
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert allowed == {"GET", "PUT", "PATCH", "DELETE"}


@pytest.mark.parametrize("value", [0, 1, "yes", "on"])
def test_completed_must_be_a_json_boolean(
    client: TestClient, alice: Account, value: object
) -> None:
    task = create_task(client, alice, "one")
    response = client.put(
        f"/api/tasks/{task['id']}", json={"completed": value}, headers=alice.headers
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "completed"


def test_a_null_description_at_creation_is_refused_or_documented(
    client: TestClient, alice: Account, spec: Any
) -> None:
    response = client.post(
        "/api/tasks", json={"title": "t", "description": None}, headers=alice.headers
    )
    description = spec["components"]["schemas"]["TaskCreate"]["properties"]["description"]
    documented_nullable = any(
        option.get("type") == "null" for option in description.get("anyOf", [])
    )
    assert response.status_code == 400 or documented_nullable


@pytest.mark.parametrize(
    ("schema", "field"), [("LoginRequest", "password"), ("RefreshRequest", "refresh_token")]
)
def test_checked_length_bounds_are_documented(spec: Any, schema: str, field: str) -> None:
    documented = spec["components"]["schemas"][schema]["properties"][field]
    assert documented.get("minLength") == 1
    assert "maxLength" in documented
