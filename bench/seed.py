"""Seeding through the API: accounts by signup and login, the lister's tasks by POST and toggle."""

import uuid
from dataclasses import dataclass

import httpx

PASSWORD = "Bench-Passw0rd"


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    user_id: uuid.UUID
    token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _ok(response: httpx.Response, expected: int) -> httpx.Response:
    if response.status_code != expected:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code} (expected {expected}): {response.text[:300]}"
        )
    return response


def account(client: httpx.Client, email: str, name: str) -> Account:
    """Sign up and log in; the access token lives as long as the server's ACCESS_TOKEN_MINUTES."""
    body = {"email": email, "name": name, "password": PASSWORD}
    user = _ok(client.post("/api/auth/signup", json=body), 201).json()
    tokens = _ok(
        client.post("/api/auth/login", json={"email": email, "password": PASSWORD}), 200
    ).json()
    return Account(
        email=email, password=PASSWORD, user_id=uuid.UUID(user["id"]), token=tokens["access_token"]
    )


def tasks(client: httpx.Client, owner: Account, count: int, completed: int) -> None:
    """`count` tasks created one by one, the first `completed` of them then toggled to done."""
    ids: list[int] = []
    for n in range(count):
        body = {"title": f"Task {n + 1}", "description": f"Seeded task number {n + 1}"}
        created = _ok(client.post("/api/tasks", json=body, headers=owner.bearer), 201).json()
        ids.append(created["id"])
    for task_id in ids[:completed]:
        _ok(client.patch(f"/api/tasks/{task_id}/toggle", headers=owner.bearer), 200)
