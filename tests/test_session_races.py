"""Ending sessions while a refresh or a login is half done: the ending wins, whichever
commits first (contract: "Sessions" take effect at once). Each test holds the racing request
at its most awkward point (a hook in the service) while the ending runs."""

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.services import accounts
from app.services import tokens as token_service
from tests.support import Account, login
from tests.test_sessions import session_id_of, works_on_both_doors

NEW_PASSWORD = "Battery-Staple-7"


@contextmanager
def held(
    monkeypatch: pytest.MonkeyPatch, service: ModuleType, name: str
) -> Iterator[threading.Event]:
    """Hold the first call of `<service>.<name>` until the event yielded is set (later calls
    pass); `entered` (an attribute of the event) is set once that call is waiting."""
    original = getattr(service, name)
    release, entered = threading.Event(), threading.Event()

    def wait_then_call(*args: Any, **kwargs: Any) -> Any:
        if not entered.is_set():
            entered.set()
            assert release.wait(10), "the test never released the held call"
        return original(*args, **kwargs)

    monkeypatch.setattr(service, name, wait_then_call)
    release.entered = entered  # type: ignore[attr-defined]
    try:
        yield release
    finally:
        release.set()


def change_password(client: TestClient, account: Account) -> Response:
    body = {"current_password": account.password, "new_password": NEW_PASSWORD}
    return client.post("/api/auth/password", json=body, headers=account.headers)


def revoke_other(other: Account) -> Callable[[TestClient, Account], Response]:
    def revoke(client: TestClient, account: Account) -> Response:
        path = f"/api/auth/sessions/{session_id_of(other)}"
        return client.delete(path, headers=account.headers)

    return revoke


def delete_account(client: TestClient, account: Account) -> Response:
    body = {"password": account.password}
    return client.request("DELETE", "/api/auth/me", json=body, headers=account.headers)


def race(first: Callable[[], Response], then: Callable[[], Response], release: Any) -> list[Any]:
    """Start `first`, wait until it is held, start `then`, give it time to reach the database,
    release `first`; both answers."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        held_call = pool.submit(first)
        assert release.entered.wait(10)
        ending = pool.submit(then)
        ending_done = threading.Event()
        ending.add_done_callback(lambda _: ending_done.set())
        ending_done.wait(0.5)  # on PostgreSQL it waits for the held refresh's lock
        release.set()
        return [held_call.result(), ending.result()]


@pytest.mark.parametrize("ending", ["password change", "revocation", "account deletion"])
def test_a_refresh_in_flight_as_its_session_ends_gets_tokens_that_do_not_work(
    client: TestClient, alice: Account, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    """The refresh has taken its session's row and retired its token; its successor is not yet
    committed when the ending starts."""
    other = login(client, alice.email)
    end = {
        "password change": change_password,
        "revocation": revoke_other(other),
        "account deletion": delete_account,
    }[ending]
    with held(monkeypatch, token_service, "_add_tokens") as release:
        refreshed, ended = race(
            lambda: client.post("/api/auth/refresh", json={"refresh_token": other.refresh_token}),
            lambda: end(client, alice),
            release,
        )
    assert (refreshed.status_code, ended.status_code) == (200, 200)
    tokens = refreshed.json()
    successor = Account(
        other.email, other.password, tokens["access_token"], tokens["refresh_token"]
    )
    assert not works_on_both_doors(client, successor)
    again = client.post("/api/auth/refresh", json={"refresh_token": successor.refresh_token})
    assert again.status_code == 401


def test_a_login_that_checked_the_old_password_as_it_changed_is_refused(
    client: TestClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The login has checked the old password and not yet written its session when the change
    commits: it must not start a session on a password that is no longer the account's."""
    body = {"email": alice.email, "password": alice.password}
    with held(monkeypatch, token_service, "start_session") as release:
        logged_in, changed = race(
            lambda: client.post("/api/auth/login", json=body),
            lambda: change_password(client, alice),
            release,
        )
    assert changed.status_code == 200
    assert logged_in.status_code == 401
    sessions = client.get("/api/auth/sessions", headers=alice.headers).json()
    assert [session["id"] for session in sessions] == [session_id_of(alice)]


def test_of_two_changes_confirmed_with_the_same_password_only_one_applies(
    client: TestClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both confirmed the current password; the one held before writing finds it changed by
    the other, and is refused with nothing written."""
    other = login(client, alice.email)
    second_password = {"current_password": alice.password, "new_password": "Second-Staple-8"}
    with held(monkeypatch, accounts, "_set_password") as release:
        held_change, other_change = race(
            lambda: change_password(client, alice),
            lambda: client.post("/api/auth/password", json=second_password, headers=other.headers),
            release,
        )
    assert (held_change.status_code, other_change.status_code) == (401, 200)
    body = {"email": alice.email, "password": "Second-Staple-8"}
    assert client.post("/api/auth/login", json=body).status_code == 200
    assert works_on_both_doors(client, other)
    assert not works_on_both_doors(client, alice)  # ended by the change that applied


def test_an_account_deletion_whose_session_ends_first_deletes_nothing(
    client: TestClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The password was confirmed, then another session revokes the deleting one before it
    writes: the deletion is refused and the account stays."""
    other = login(client, alice.email)
    with held(monkeypatch, accounts, "_delete_user") as release:
        deleted, revoked = race(
            lambda: delete_account(client, alice),
            lambda: revoke_other(alice)(client, other),
            release,
        )
    assert (deleted.status_code, revoked.status_code) == (401, 200)
    assert works_on_both_doors(client, other)
