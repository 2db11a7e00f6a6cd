"""The logs of a real server (`uvicorn app.main:app`, JSON lines): an access line per request,
and no secret in any line, whatever the requests carried."""

import json
from pathlib import Path
from typing import Any

import httpx

from tests.better_auth_server import BetterAuthServer, bearer, new_email
from tests.conftest import migrate
from tests.reliability.servers import server_env, uvicorn_server

PASSWORD = "Correct-Horse-9"
WRONG_PASSWORD = "Wrong-Horse-9"


def test_no_secret_reaches_the_logs(tmp_path: Path, better_auth: BetterAuthServer) -> None:
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    migrate(url)
    env = server_env(url, LOG_FORMAT="json", BETTER_AUTH_URL=better_auth.url)
    email, linked_email = new_email("logged"), new_email("linked")
    with uvicorn_server(env, tmp_path, app=("app.main:app",)) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            signup = {"email": email, "name": "Ada", "password": PASSWORD}
            assert client.post("/api/auth/signup", json=signup).status_code == 201
            login = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
            tokens = login.json()
            failed = {"email": email, "password": WRONG_PASSWORD}
            assert client.post("/api/auth/login", json=failed).status_code == 401
            refreshed = client.post(
                "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            ).json()
            session = better_auth.sign_up(linked_email)
            better_auth_token = better_auth.token(session)
            linked = client.post(
                "/api/auth/identities",
                json={"token": better_auth_token},
                headers=bearer(refreshed["access_token"]),
            )
            assert linked.status_code == 200, linked.text
        log = server.log_text()

    secrets = {
        "email": email,
        "linked email": linked_email,
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "access token": tokens["access_token"],
        "refresh token": tokens["refresh_token"],
        "refreshed access token": refreshed["access_token"],
        "refreshed refresh token": refreshed["refresh_token"],
        "Better Auth token": better_auth_token,
        "Better Auth session": session.token,
    }
    assert [name for name, secret in secrets.items() if secret in log] == []
    lines = _json_lines(log)
    access = [line for line in lines if line["logger"] == "todo.access"]
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]  # one line each
    routes = [(line["method"], line["route"], line["status"]) for line in access]
    assert ("POST", "/api/auth/login", 401) in routes
    assert ("POST", "/api/auth/refresh", 200) in routes
    assert ("POST", "/api/auth/identities", 200) in routes


def _json_lines(log: str) -> list[dict[str, Any]]:
    """The service's lines (every one a JSON object), without what uvicorn printed before the
    app configured logging."""
    lines = []
    for text in log.splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines
