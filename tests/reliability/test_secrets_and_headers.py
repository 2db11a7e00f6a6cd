"""Secrets at start-up, nothing secret in answers or logs, and the API's security headers.

tests/test_settings.py checks the Settings object; here the real server process is started in
production with weak secrets and must refuse to serve.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.reliability.checks import leaks, missing_security_headers
from tests.reliability.live import register, unique_email
from tests.reliability.servers import HOST, SERVER_PORTS, Server, free_port, stop_process

START_TIMEOUT = 30.0


def _start_production(tmp_path: Path, **env: str) -> tuple[int | None, str, bool]:
    """Start the server in production with `env`; return its exit code (None while it runs),
    its output, and whether it ever answered HTTP."""
    port = free_port(SERVER_PORTS)
    command = [
        sys.executable, "-m", "uvicorn", "app.factory:create_app", "--factory",
        "--host", HOST, "--port", str(port),
    ]  # fmt: skip
    log = tmp_path / f"production-{port}.log"
    base = {"PATH": os.environ.get("PATH", ""), "ENVIRONMENT": "production"}
    base["DATABASE_URL"] = f"sqlite:///{tmp_path / 'production.db'}"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
            command,
            cwd=ROOT,  # where a development .jwt-secret may lie: production must not use it
            env=base | env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    answered = False
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(f"http://{HOST}:{port}/api/health", timeout=1.0)
                answered = True
                break
            except httpx.HTTPError:
                time.sleep(0.1)
    finally:
        code = process.poll()
        stop_process(process)
    return code, log.read_text(errors="replace"), answered


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"JWT_SECRET": ""},
        {"JWT_SECRET": "x" * 31},
        {"BETTER_AUTH_SECRET": "short-but-not-empty"},
        {"JWT_SECRET": "a" * 32},
        {"JWT_SECRET": "s3cr3t-" * 8},
    ],
    ids=[
        "missing",
        "empty",
        "31-characters",
        "short-better-auth-secret",
        "32-times-a",
        "6-distinct-characters",
    ],
)
def test_production_server_refuses_to_start_with_a_weak_secret(
    tmp_path: Path, env: dict[str, str]
) -> None:
    code, output, answered = _start_production(tmp_path, **env)
    assert not answered, "the server served requests with a weak secret"
    assert code, output[-2000:]  # exited, and not with 0
    assert "JWT_SECRET" in output


def test_production_server_starts_with_a_strong_secret(tmp_path: Path) -> None:
    code, output, answered = _start_production(tmp_path, JWT_SECRET="s3cr3t-Kx9-Wq2-" * 3)
    assert answered, output[-2000:]
    assert code is None


@pytest.mark.parametrize(
    "secret", ["short-secret-16c", "a-real-secret-of-31-characters!", "ab" * 20]
)
def test_a_refused_secret_is_not_printed(tmp_path: Path, secret: str) -> None:
    code, output, _ = _start_production(tmp_path, JWT_SECRET=secret)
    assert code
    assert secret[-16:] not in output  # not even its end


def test_no_answer_or_log_line_reveals_a_password_hash_or_token(live_server: Server) -> None:
    password = "Distinctive-Pa55word"
    email = unique_email("secret")
    url = live_server.url
    answers = [
        httpx.post(
            f"{url}/api/auth/signup", json={"email": email, "name": "S", "password": password}
        )
    ]
    account = register(url)
    answers += [
        httpx.post(
            f"{url}/api/auth/signup", json={"email": email, "name": "S", "password": password}
        ),
        httpx.post(f"{url}/api/auth/login", json={"email": email, "password": password + "x"}),
        httpx.get(f"{url}/api/auth/me", headers=account.headers),
        httpx.post(
            f"{url}/graphql",
            json={"query": "{ me { id email name createdAt } }"},
            headers=account.headers,
        ),
    ]
    login = httpx.post(f"{url}/api/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200
    answers.append(login)
    for answer in answers:
        assert not leaks(answer.status_code, answer.text), answer.text
        assert password not in answer.text
    log = live_server.log_text()
    assert password not in log
    assert login.json()["access_token"] not in log
    assert login.json()["refresh_token"] not in log
    assert "$2b$" not in log


def test_no_graphql_type_exposes_a_password(live_server: Server) -> None:
    introspection = "{ __schema { types { name kind fields { name } } } }"
    body = httpx.post(f"{live_server.url}/graphql", json={"query": introspection}).json()
    exposed = [
        f"{kind['name']}.{field['name']}"
        for kind in body["data"]["__schema"]["types"]
        # Mutation's fields are operations (changePassword takes one; it answers a Boolean)
        if kind["kind"] == "OBJECT" and kind["name"] != "Mutation"
        for field in kind["fields"] or []
        if "password" in field["name"].lower() or "hash" in field["name"].lower()
    ]
    assert exposed == []


def test_every_kind_of_api_answer_carries_the_security_headers(live_server: Server) -> None:
    account = register(live_server.url)
    auth = account.headers
    url = live_server.url
    with httpx.Client(base_url=url, timeout=30.0) as client:
        task = client.post("/api/tasks", json={"title": "h"}, headers=auth)
        answers = {
            "201 create": task,
            "200 list": client.get("/api/tasks", headers=auth),
            "200 stats": client.get("/api/tasks/stats", headers=auth),
            "200 toggle": client.patch(f"/api/tasks/{task.json()['id']}/toggle", headers=auth),
            "200 me": client.get("/api/auth/me", headers=auth),
            "400 invalid": client.post("/api/tasks", json={"title": ""}, headers=auth),
            "401 no token": client.get("/api/tasks"),
            "404 missing": client.get("/api/tasks/2147483647", headers=auth),
            "404 no route": client.get("/api/nowhere", headers=auth),
            "405 method": client.put("/api/tasks", headers=auth),
            "413 too big": client.post(
                "/api/tasks", content=b"x" * (1024 * 1024 + 1), headers=auth
            ),
            "200 graphql": client.post(
                "/graphql", json={"query": "{ taskStats { total } }"}, headers=auth
            ),
            "400 graphql batch": client.post(
                "/graphql", json=[{"query": "{ me { id } }"}] * 11, headers=auth
            ),
        }
        for _ in range(6):
            throttled = client.post(
                "/api/auth/login", json={"email": account.email, "password": "Wrong-pass-1"}
            )
        answers["429 throttled"] = throttled
    assert answers["429 throttled"].status_code == 429
    wrong = {
        name: missing_security_headers(str(answer.url.path), dict(answer.headers))
        for name, answer in answers.items()
        if missing_security_headers(str(answer.url.path), dict(answer.headers))
    }
    assert wrong == {}
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {name: int(name.split()[0]) for name in answers}
