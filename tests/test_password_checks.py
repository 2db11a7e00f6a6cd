"""How passwords are checked: always one bcrypt check, and never on the event loop."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from app import security
from tests.support import signup


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
