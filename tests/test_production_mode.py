"""What `ENVIRONMENT=production` hides: no error guesses at names, no documentation pages unless
API_DOCS=true, no guessable secret; and no redirect, in any mode, to a host the client did not
come to."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app import settings as settings_module
from app.factory import create_app
from app.settings import Settings
from tests.support import Account, graphql, register

# Each document misspells one kind of name; the last item is what graphql-core would guess.
MISSPELLED: dict[str, tuple[str, dict[str, Any], str]] = {
    "field": ("{ tsks { totalCount } }", {}, "tasks"),
    "type": ("query ($f: TaskFiltr) { tasks(filter: $f) { totalCount } }", {}, "TaskFilter"),
    "argument": ("{ tasks(filtr: {}) { totalCount } }", {}, "filter"),
    "input-field": ('{ tasks(filter: {serch: "x"}) { totalCount } }', {}, "search"),
    "variable-input-field": (
        "query ($f: TaskFilter) { tasks(filter: $f) { totalCount } }",
        {"f": {"serch": "x"}},
        "search",
    ),
    "fragment-type": ("{ me { ...F } } fragment F on Usr { id }", {}, "User"),
}


def _messages(client: TestClient, account: Account, name: str) -> list[str]:
    query, variables, _ = MISSPELLED[name]
    return [error["message"] for error in graphql(client, query, variables, account)["errors"]]


@pytest.fixture
def production(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(environment="production"))) as client:
        yield client


@pytest.mark.parametrize("name", MISSPELLED)
def test_production_errors_suggest_no_names(production: TestClient, name: str) -> None:
    account = register(production, "a@example.com")
    messages = _messages(production, account, name)
    assert messages
    for message in messages:
        assert "Did you mean" not in message
        assert f"'{MISSPELLED[name][2]}'" not in message


@pytest.mark.parametrize("name", MISSPELLED)
def test_development_errors_still_suggest_names(client: TestClient, name: str) -> None:
    """The production filter is what removes them: without it graphql-core guesses."""
    account = register(client, "a@example.com")
    assert any("Did you mean" in message for message in _messages(client, account, name))


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_production_serves_no_documentation_pages(production: TestClient, path: str) -> None:
    response = production.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_api_docs_true_serves_them_in_production(
    make_settings: Callable[..., Settings], path: str
) -> None:
    app = create_app(make_settings(environment="production", api_docs=True))
    with TestClient(app) as client:
        assert client.get(path).status_code == 200


def test_api_docs_false_hides_them_in_development(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(api_docs=False))) as client:
        assert client.get("/openapi.json").status_code == 404


@pytest.mark.parametrize("secret", ["a" * 32, "ab" * 20, "123456789" * 4])
def test_production_refuses_a_secret_of_fewer_than_10_distinct_characters(secret: str) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET is trivially guessable") as refused:
        Settings(environment="production", jwt_secret=secret, _env_file=None)
    assert secret not in str(refused.value)


@pytest.mark.parametrize(
    "secret",
    [
        "your-secret-key-change-in-production",
        "YOUR_SECRET_KEY_CHANGE_IN_PRODUCTION_0123",
        "changeme-0123456789-abcdefghijklmnop",
        "secret-key-0123456789-abcdefghijklmno",
        "supersecret-0123456789-abcdefghijklmn",
        "my-jwt-key-0123456789-change-in-prod",
    ],
)
def test_production_refuses_a_well_known_placeholder_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="placeholder") as refused:
        Settings(environment="production", jwt_secret=secret, _env_file=None)
    assert secret not in str(refused.value)


def test_production_refuses_a_secret_written_in_the_project_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "Xq7-vR2pLm9sK4tW8yB1nC6dF3gH5jZ0-from-the-readme"
    readme = tmp_path / "README.md"
    readme.write_text(f"Example: JWT_SECRET={secret}\n")
    monkeypatch.setattr(settings_module, "PROJECT_FILES", (tmp_path / ".env.example", readme))
    with pytest.raises(ValidationError, match=r"written in README\.md") as refused:
        Settings(environment="production", jwt_secret=secret, _env_file=None)
    assert secret not in str(refused.value)


def test_production_accepts_a_random_secret() -> None:
    secret = "Xq7-vR2pLm9sK4tW8yB1nC6dF3gH5jZ0"
    settings = Settings(environment="production", jwt_secret=secret, _env_file=None)
    assert settings.is_production
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == secret


def test_development_keeps_accepting_a_long_plain_secret() -> None:
    settings = Settings(environment="development", jwt_secret="a" * 32, _env_file=None)
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == "a" * 32


@pytest.mark.parametrize("path", ["/api/tasks/", "/api/auth/me/", "/graphql/"])
def test_a_trailing_slash_is_a_404_not_a_redirect_to_the_named_host(
    client: TestClient, path: str
) -> None:
    response = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 404
    assert "location" not in response.headers
