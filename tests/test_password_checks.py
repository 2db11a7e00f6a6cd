"""How passwords are checked: always one bcrypt check, never on the event loop, and at most
MAX_PASSWORD_CHECKS_PER_REQUEST signups or logins per HTTP request, whatever aliases and batches
a GraphQL request holds."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import func, select

from app import security
from app.factory import create_app
from app.settings import Settings
from models import User
from tests.support import PASSWORD, database, error_codes, signup


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """The mutation limit (GRAPHQL_MAX_MUTATIONS) lifted: the password bound must hold alone."""
    return make_settings(graphql_max_mutations=1000)


SIGNUP = 'a{i}: signup(input: {{email: "u{n}-{i}@example.com", name: "N", password: "PW"}}) '
LOGIN = 'a{i}: login(input: {{email: "a@example.com", password: "PW"}}) '


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every bcrypt hash or check the service runs, by kind."""
    ran: list[str] = []
    real_hash, real_verify = security.hash_password, security.verify_password

    def counting_hash(password: str, rounds: int) -> str:
        ran.append("hash")
        return real_hash(password, rounds)

    def counting_verify(password: str, password_hash: str) -> bool:
        ran.append("check")
        return real_verify(password, password_hash)

    monkeypatch.setattr(security, "hash_password", counting_hash)
    monkeypatch.setattr(security, "verify_password", counting_verify)
    return ran


def mutation(template: str, aliases: int, n: int = 0) -> str:
    """`aliases` aliased signups or logins in one document, each asking for the user's id."""
    fields = (template.format(i=i, n=n) + "{ user { id } }" for i in range(aliases))
    return "mutation { " + " ".join(fields).replace("PW", PASSWORD) + " }"


def users(settings: Settings) -> int:
    with database(settings) as session:
        return session.exec(select(func.count()).select_from(User)).one()


def test_thirty_aliased_signups_hash_once(
    client: TestClient, settings: Settings, hashes: list[str]
) -> None:
    body = client.post("/graphql", json={"query": mutation(SIGNUP, 30)}).json()
    assert hashes == ["hash"]
    assert users(settings) == 1
    assert "RATE_LIMITED" in error_codes(body)


def test_a_batch_of_ten_documents_of_thirty_signups_hashes_once(
    client: TestClient, settings: Settings, hashes: list[str]
) -> None:
    batch = [{"query": mutation(SIGNUP, 30, n)} for n in range(10)]
    answers = client.post("/graphql", json=batch).json()
    assert hashes == ["hash"]
    assert users(settings) == 1
    assert all("RATE_LIMITED" in error_codes(answer) for answer in answers)


def test_aliased_right_password_logins_check_once(client: TestClient, hashes: list[str]) -> None:
    signup(client, "a@example.com")
    hashes.clear()
    body = client.post("/graphql", json={"query": mutation(LOGIN, 30)}).json()
    assert hashes == ["check"]
    assert error_codes(body) == ["RATE_LIMITED"]  # the second alias; the rest never run


def test_the_allowance_per_request_is_a_setting(
    make_settings: Callable[..., Settings], hashes: list[str]
) -> None:
    app: FastAPI = create_app(make_settings(max_password_checks_per_request=3))
    with TestClient(app) as client:
        client.post("/graphql", json=[{"query": mutation(SIGNUP, 1, n)} for n in range(5)])
    assert hashes == ["hash"] * 3


def test_each_rest_request_has_its_own_allowance(client: TestClient, hashes: list[str]) -> None:
    signup(client, "a@example.com")
    for _ in range(3):
        response = client.post(
            "/api/auth/login", json={"email": "a@example.com", "password": PASSWORD}
        )
        assert response.status_code == 200
    assert hashes == ["hash"] + ["check"] * 3


@pytest.mark.parametrize("email", ["known@example.com", "unknown@example.com"])
def test_unknown_email_and_wrong_password_both_run_one_bcrypt_check(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, email: str
) -> None:
    signup(client, "known@example.com")
    checked: list[str] = []
    real_verify = security.verify_password

    def counting_verify(password: str, password_hash: str) -> bool:
        checked.append(password_hash)
        return real_verify(password, password_hash)

    monkeypatch.setattr(security, "verify_password", counting_verify)
    response = client.post("/api/auth/login", json={"email": email, "password": "Wrong-pass-1"})
    assert response.status_code == 401
    assert len(checked) == 1
    assert checked[0].startswith("$2b$04$")  # the configured cost, dummy hash included


def test_a_slow_password_check_does_not_stall_other_requests(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow_verify(password: str, password_hash: str) -> bool:
        entered.set()
        release.wait(5)  # on the event loop, this would hold every other request for 5 s
        finished.set()
        return False

    monkeypatch.setattr(security, "verify_password", slow_verify)
    with ThreadPoolExecutor(max_workers=1) as pool:
        login = pool.submit(
            client.post, "/api/auth/login", json={"email": "a@example.com", "password": "Pw-12345"}
        )
        assert entered.wait(10)
        health = client.get("/api/health")
        answered_during_check = not finished.is_set()
        release.set()
        assert login.result().status_code == 401
    assert health.status_code == 200
    assert answered_during_check
