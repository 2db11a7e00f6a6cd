"""The generated OpenAPI document tells the truth about the API."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

OPERATIONS = {
    ("get", "/api/health"): "health",
    ("post", "/api/auth/signup"): "signup",
    ("post", "/api/auth/login"): "login",
    ("post", "/api/auth/refresh"): "refresh",
    ("post", "/api/auth/logout"): "logout",
    ("get", "/api/auth/me"): "me",
    ("get", "/api/tasks"): "list_tasks",
    ("post", "/api/tasks"): "create_task",
    ("get", "/api/tasks/stats"): "task_stats",
    ("get", "/api/tasks/{task_id}"): "get_task",
    ("put", "/api/tasks/{task_id}"): "update_task",
    ("patch", "/api/tasks/{task_id}"): "patch_task",
    ("patch", "/api/tasks/{task_id}/toggle"): "toggle_task",
    ("delete", "/api/tasks/{task_id}"): "delete_task",
    ("get", "/api/tags"): "list_tags",
    ("get", "/api/trash"): "list_trash",
    ("post", "/api/trash/{task_id}/restore"): "restore_task",
    ("delete", "/api/trash/{task_id}"): "purge_task",
    ("delete", "/api/trash"): "empty_trash",
    ("get", "/api/auth/sessions"): "list_sessions",
    ("delete", "/api/auth/sessions/{session_id}"): "revoke_session",
    ("post", "/api/auth/password"): "change_password",
    ("delete", "/api/auth/me"): "delete_account",
    ("post", "/api/auth/identities"): "link_identity",
}


@pytest.fixture
def spec(client: TestClient) -> Any:
    return client.get("/openapi.json").json()


def operation(spec: Any, method: str, path: str) -> Any:
    return spec["paths"][path][method]


def test_every_operation_has_its_short_operation_id(spec: Any) -> None:
    found = {
        (method, path): op["operationId"]
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    }
    assert found == OPERATIONS


def test_tags_are_listed_in_the_contracts_order_and_cover_every_operation(spec: Any) -> None:
    """Routes are tried busiest first (app.factory); readers meet them in the contract's order."""
    used = {tag for operations in spec["paths"].values() for op in operations.values()
            for tag in op.get("tags", [])}  # fmt: skip
    listed = [tag["name"] for tag in spec["tags"]]
    assert listed == ["health", "auth", "tasks", "trash"]
    assert used == set(listed)


def test_no_operation_documents_422(spec: Any) -> None:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert "422" not in op["responses"], (method, path)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_operations_with_input_document_400_with_field_errors(spec: Any) -> None:
    responses = operation(spec, "post", "/api/tasks")["responses"]
    assert responses["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationErrorBody"
    }
    assert spec["components"]["schemas"]["ValidationErrorBody"]["required"] == [
        "detail",
        "errors",
    ]


def test_bearer_scheme_is_declared_and_used(spec: Any) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token from /api/auth/login.",
    }
    assert operation(spec, "get", "/api/tasks")["security"] == [{"HTTPBearer": []}]


def test_documented_headers(spec: Any) -> None:
    listing = operation(spec, "get", "/api/tasks")["responses"]
    assert "X-Total-Count" in listing["200"]["headers"]
    assert (
        "Retry-After" in operation(spec, "post", "/api/auth/login")["responses"]["429"]["headers"]
    )
    assert "WWW-Authenticate" in listing["401"]["headers"]


def test_health_documents_its_503_body(spec: Any) -> None:
    response = operation(spec, "get", "/api/health")["responses"]["503"]
    assert response["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Unhealthy"
    }


def test_task_routes_document_404(spec: Any) -> None:
    for method in ("get", "put", "patch", "delete"):
        assert "404" in operation(spec, method, "/api/tasks/{task_id}")["responses"]


def test_validation_rules_are_in_the_schemas(spec: Any) -> None:
    schemas = spec["components"]["schemas"]
    title = schemas["TaskCreate"]["properties"]["title"]
    assert (title["minLength"], title["maxLength"]) == (1, 200)
    password = schemas["SignupRequest"]["properties"]["password"]
    assert password["minLength"] == 8
    assert "pattern" in password
    assert schemas["SignupRequest"]["properties"]["email"]["format"] == "email"


def test_response_fields_are_required(spec: Any) -> None:
    schemas = spec["components"]["schemas"]
    assert set(schemas["Tokens"]["required"]) == {
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
    }
    assert set(schemas["TaskPublic"]["required"]) == {
        "id", "title", "description", "completed", "priority", "due_at", "tags", "version",
        "created_at", "updated_at",
    }  # fmt: skip
    assert set(schemas["TrashedTask"]["required"]) == {
        *schemas["TaskPublic"]["required"],
        "deleted_at",
    }
    assert set(schemas["TagCount"]["required"]) == {"name", "task_count"}


def test_conditional_and_idempotency_headers_are_documented(spec: Any) -> None:
    update = operation(spec, "patch", "/api/tasks/{task_id}")
    assert "If-Match" in {parameter["name"] for parameter in update["parameters"]}
    assert {"ETag"} <= set(update["responses"]["200"]["headers"])
    assert update["responses"]["412"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "VersionMismatchBody"
    )
    create = operation(spec, "post", "/api/tasks")
    key = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 255)
    assert {"ETag", "Idempotent-Replayed"} <= set(create["responses"]["201"]["headers"])
    assert "409" in create["responses"]
    get = operation(spec, "get", "/api/tasks/{task_id}")
    assert "If-None-Match" in {parameter["name"] for parameter in get["parameters"]}
    assert "304" in get["responses"]


def test_list_tasks_documents_its_filters_and_the_sort_values(spec: Any) -> None:
    parameters = {p["name"]: p for p in operation(spec, "get", "/api/tasks")["parameters"]}
    assert {"priority", "tag", "due_before", "due_after", "overdue", "sort"} <= set(parameters)
    sort = parameters["sort"]["schema"]["anyOf"][0]
    assert set(sort["enum"]) == {
        f"{sign}{field}"
        for sign in ("", "-")
        for field in ("created_at", "updated_at", "due_at", "priority", "title")
    }


def test_docs_and_redoc_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert client.get("/redoc").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/tasks"),
        ("put", "/api/tasks/{task_id}"),
        ("patch", "/api/tasks/{task_id}"),
        ("patch", "/api/tasks/{task_id}/toggle"),
        ("delete", "/api/tasks/{task_id}"),
        ("post", "/api/trash/{task_id}/restore"),
        ("delete", "/api/trash/{task_id}"),
        ("delete", "/api/trash"),
    ],
)
def test_every_task_write_documents_the_write_limits_429(spec: Any, method: str, path: str) -> None:
    assert "Retry-After" in operation(spec, method, path)["responses"]["429"]["headers"]
