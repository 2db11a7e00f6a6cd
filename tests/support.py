"""Small helpers the tests share: make an account, log in, send authenticated requests."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.engine import create_db_engine
from app.settings import Settings
from models import User

PASSWORD = "Correct-Horse-9"


@dataclass
class Account:
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def signup(client: TestClient, email: str, password: str = PASSWORD, name: str = "Ada") -> Any:
    response = client.post(
        "/api/auth/signup", json={"email": email, "name": name, "password": password}
    )
    assert response.status_code == 201, response.text
    return response.json()


def login(client: TestClient, email: str, password: str = PASSWORD) -> Account:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens = response.json()
    return Account(email, password, tokens["access_token"], tokens["refresh_token"])


def register(client: TestClient, email: str) -> Account:
    signup(client, email)
    return login(client, email)


def create_task(client: TestClient, account: Account, title: str, **fields: Any) -> Any:
    response = client.post("/api/tasks", json={"title": title, **fields}, headers=account.headers)
    assert response.status_code == 201, response.text
    return response.json()


@contextmanager
def database(settings: Settings) -> Iterator[Session]:
    """Direct access to the test database, for arranging what the API cannot (old timestamps)."""
    engine = create_db_engine(settings)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def user_id_of(session: Session, account: Account) -> uuid.UUID:
    return session.exec(select(User.id).where(User.email == account.email)).one()


def graphql(
    client: TestClient,
    query: str,
    variables: dict[str, Any] | None = None,
    account: Account | None = None,
) -> Any:
    """POST one GraphQL operation; returns the decoded body (`data`, `errors`)."""
    headers = account.headers if account else {}
    response = client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def error_codes(body: Any) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]
