"""A real Better Auth server for the tests: tests/better_auth/server.mjs (better-auth pinned by its
package-lock.json, in-memory, the jwt plugin at its defaults) on a free loopback port.

The `better_auth` fixture (registered in tests/conftest.py, so any test under tests/ can ask for
it) yields a `BetterAuthServer`. It installs nothing: `make test` runs `npm ci` in
tests/better_auth when npm is there. Without Node or that install the tests that use it skip,
except where REQUIRE_NODE_TOOLS is set (.ci/run sets it), where they fail.

What Better Auth 1.7 does, as the front end sees it:
- POST /api/auth/sign-up/email answers `{"token", "user"}` and sets the signed session cookie
  `better-auth.session_token`.
- GET /api/auth/token takes that cookie only (`Authorization: Bearer <session token>` needs the
  `bearer` plugin, which this server, like the front end, does not use) and answers `{"token"}`:
  an EdDSA (Ed25519) JWT whose header carries the `kid` of a key of GET /api/auth/jwks, with the
  claims iat, the user's fields (id, name, email, emailVerified, image when set, createdAt,
  updatedAt), sub (the user id), exp (iat + 15 minutes), iss and aud (both the base URL).

The server lives for the whole session: users accumulate, and `rotate` changes the signing key
for every later test. `jwks_up` is called after each test, so one that takes the key set down
cannot leave it down.
"""

import base64
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.factory import create_app
from app.settings import Settings
from tests.reliability.node_tools import node_with_modules

if TYPE_CHECKING:  # at run time it is imported late: see better_auth_server
    from tests.reliability.servers import Server

TOOLS = Path(__file__).parent / "better_auth"
SESSION_COOKIE = "better-auth.session_token"
# The server's secret (its default is the same value): it encrypts the private keys and signs the
# session cookies. Tests may use it to forge HS256 tokens that must be refused.
SECRET = "better-auth-test-secret-0123456789-abcdefghijklmnop"
PASSWORD = "correct-horse-battery"
TIMEOUT = 10.0


@dataclass(frozen=True)
class BetterAuthSession:
    """A signed-in user of the Better Auth server: what its browser holds."""

    user_id: str
    token: str  # the session token of the sign-up answer's body
    cookie: str  # the signed value of the `better-auth.session_token` cookie


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header of a JWT, not verified."""
    part = token.split(".")[0]
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return header


class BetterAuthServer:
    """The running server: `url` is its base URL (its `baseURL`, so the tokens' iss and aud),
    `jwks_url` its key set; the methods drive it as the front end, or through its /test controls."""

    def __init__(self, server: "Server") -> None:
        self.server = server
        self.url = server.url
        self.jwks_url = f"{self.url}/api/auth/jwks"
        self.secret = SECRET

    def _answer(self, response: httpx.Response) -> Any:
        assert response.status_code == 200, (
            f"{response.request.method} {response.request.url.path}: {response.status_code} "
            f"{response.text}\n{self.server.tail()}"
        )
        return response.json()

    def _control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._answer(httpx.post(f"{self.url}/test/{path}", json=body, timeout=TIMEOUT))

    def sign_up(
        self, email: str, password: str = PASSWORD, name: str = "Test User"
    ) -> BetterAuthSession:
        """POST /api/auth/sign-up/email, as the front end (same origin) sends it."""
        response = httpx.post(
            f"{self.url}/api/auth/sign-up/email",
            json={"email": email, "password": password, "name": name},
            headers={"Origin": self.url},
            timeout=TIMEOUT,
        )
        body = self._answer(response)
        cookie = response.cookies.get(SESSION_COOKIE)
        assert cookie, f"no {SESSION_COOKIE} cookie in {response.headers}"
        return BetterAuthSession(user_id=body["user"]["id"], token=body["token"], cookie=cookie)

    def token(self, session: BetterAuthSession) -> str:
        """A JWT from GET /api/auth/token with the session cookie (the front end's
        `authClient.token()`)."""
        response = httpx.get(
            f"{self.url}/api/auth/token",
            headers={"Cookie": f"{SESSION_COOKIE}={session.cookie}"},
            timeout=TIMEOUT,
        )
        token: str = self._answer(response)["token"]
        return token

    def jwks(self) -> dict[str, Any]:
        """GET /api/auth/jwks (fails while it is down)."""
        keys: dict[str, Any] = self._answer(httpx.get(self.jwks_url, timeout=TIMEOUT))
        return keys

    def sign(self, claims: dict[str, Any]) -> str:
        """A JWT of `claims` signed with Better Auth's current key (`auth.api.signJWT`). Better
        Auth sets iss and aud (the base URL) and exp (iat, or now, plus 15 minutes) when `claims`
        leave them out; it adds no iat and no sub."""
        token: str = self._control("sign", {"claims": claims})["token"]
        return token

    def rotate(self, *, remove_old: bool = False) -> str:
        """Retire the current signing key as Better Auth's rotation does; the new key's kid.

        Retired keys stay in the JWKS (Better Auth keeps them for its 30-day grace period), so
        tokens they signed still verify; with `remove_old` they leave the JWKS at once."""
        kid: str = self._control("rotate", {"remove_old": remove_old})["kid"]
        return kid

    def jwks_down(self) -> None:
        """GET /api/auth/jwks answers 503 until `jwks_up`."""
        self._control("jwks-down")

    def jwks_up(self) -> None:
        self._control("jwks-up")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_email(name: str = "user") -> str:
    """An email no test has used: the server lives for the whole session."""
    return f"{name}-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture(scope="session")
def better_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BetterAuthServer]:
    """The Better Auth server of the session (see `better_auth`)."""
    node = node_with_modules(TOOLS)
    with serve(node, SECRET, tmp_path_factory.mktemp("better-auth")) as server:
        yield BetterAuthServer(server)


def serve(node: str, secret: str, logs: Path) -> "AbstractContextManager[Server]":
    """tests/better_auth/server.mjs under `node` (its modules installed), with `secret` as its
    BETTER_AUTH_SECRET, on a free loopback port that is also its base URL's (the bench's too)."""
    # Imported here: tests.reliability.servers imports tests.conftest, which imports this module.
    from tests.reliability.servers import HOST, serving

    env = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "TMPDIR"}}
    env["BETTER_AUTH_SECRET"] = secret

    def command(port: int) -> list[str]:
        return [node, str(TOOLS / "server.mjs"), str(port), f"http://{HOST}:{port}"]

    return serving(command, env, logs)


@pytest.fixture
def better_auth(better_auth_server: BetterAuthServer) -> Iterator[BetterAuthServer]:
    """A real Better Auth server (one per session), its key set up again after the test."""
    yield better_auth_server
    better_auth_server.jwks_up()


@pytest.fixture
def better_auth_app(
    better_auth: BetterAuthServer, make_settings: Callable[..., Settings]
) -> FastAPI:
    """The service accepting the tokens of the session's real Better Auth server."""
    return create_app(make_settings(better_auth_url=better_auth.url))


@pytest.fixture
def better_auth_client(better_auth_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(better_auth_app) as test_client:
        yield test_client
