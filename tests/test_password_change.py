"""Changing the password (contract: Authentication, "Sessions"): the current password is asked
for and checked as a login checks it, the new one follows the password rules, and every other
session ends while the caller's goes on; on both doors."""

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from app.settings import Settings
from tests.support import Account, error_codes, graphql, login
from tests.test_sessions import works_on_both_doors

NEW_PASSWORD = "Battery-Staple-7"
CHANGE = "mutation($input: ChangePasswordInput!) { changePassword(input: $input) }"


def change(client: TestClient, account: Account, current: str, new: str = NEW_PASSWORD) -> Response:
    body = {"current_password": current, "new_password": new}
    return client.post("/api/auth/password", json=body, headers=account.headers)


def change_through_graphql(client: TestClient, account: Account, current: str) -> Any:
    variables = {"input": {"currentPassword": current, "newPassword": NEW_PASSWORD}}
    return graphql(client, CHANGE, variables, account=account)


def logs_in(client: TestClient, email: str, password: str) -> bool:
    body = {"email": email, "password": password}
    return client.post("/api/auth/login", json=body).status_code == 200


def test_changing_the_password_answers_password_changed(client: TestClient, alice: Account) -> None:
    response = change(client, alice, alice.password)
    assert (response.status_code, response.json()) == (200, {"message": "Password changed"})


def test_the_new_password_logs_in_and_the_old_one_does_not(
    client: TestClient, alice: Account
) -> None:
    change(client, alice, alice.password)
    assert logs_in(client, alice.email, NEW_PASSWORD)
    assert not logs_in(client, alice.email, alice.password)


def test_changing_the_password_keeps_the_callers_session(
    client: TestClient, alice: Account
) -> None:
    change(client, alice, alice.password)
    assert works_on_both_doors(client, alice)
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert refreshed.status_code == 200


def test_changing_the_password_ends_every_other_session(client: TestClient, alice: Account) -> None:
    others = [login(client, alice.email), login(client, alice.email)]
    change(client, alice, alice.password)
    assert not any(works_on_both_doors(client, other) for other in others)
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": others[0].refresh_token})
    assert refreshed.status_code == 401


def test_changing_the_password_leaves_other_users_signed_in(
    client: TestClient, alice: Account, bob: Account
) -> None:
    change(client, alice, alice.password)
    assert works_on_both_doors(client, bob)


def test_a_wrong_current_password_is_401_and_changes_nothing(
    client: TestClient, alice: Account
) -> None:
    other = login(client, alice.email)
    response = change(client, alice, "Wrong-Horse-1")
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid credentials"})
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert works_on_both_doors(client, other)
    assert logs_in(client, alice.email, alice.password)


def test_a_wrong_current_password_counts_as_a_failed_login(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    """The failures per email add up across logins and password changes: past the limit the
    next login, even with the right password, is throttled."""
    for _ in range(settings.login_max_failures - 1):
        assert change(client, alice, "Wrong-Horse-1").status_code == 401
    body = {"email": alice.email, "password": "Wrong-Horse-1"}
    assert client.post("/api/auth/login", json=body).status_code == 401
    response = client.post("/api/auth/login", json={**body, "password": alice.password})
    assert response.status_code == 429


def test_a_right_current_password_counts_no_failure(client: TestClient, alice: Account) -> None:
    for _ in range(10):
        assert change(client, alice, alice.password, new=alice.password).status_code == 200
    assert logs_in(client, alice.email, alice.password)


def test_the_new_password_follows_the_password_rules(client: TestClient, alice: Account) -> None:
    response = change(client, alice, alice.password, new="short")
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["new_password"]
    assert logs_in(client, alice.email, alice.password)


def test_both_passwords_are_required(client: TestClient, alice: Account) -> None:
    response = client.post("/api/auth/password", json={}, headers=alice.headers)
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"current_password", "new_password"}


def test_change_password_through_graphql_keeps_the_caller_and_ends_the_others(
    client: TestClient, alice: Account
) -> None:
    other = login(client, alice.email)
    assert change_through_graphql(client, alice, alice.password) == {
        "data": {"changePassword": True}
    }
    assert works_on_both_doors(client, alice)
    assert not works_on_both_doors(client, other)
    assert logs_in(client, alice.email, NEW_PASSWORD)


def test_a_wrong_current_password_through_graphql_is_unauthenticated(
    client: TestClient, alice: Account
) -> None:
    body = change_through_graphql(client, alice, "Wrong-Horse-1")
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == "Invalid credentials"
    assert logs_in(client, alice.email, alice.password)


def test_a_batch_of_password_changes_checks_one_password(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    """Batching guesses does not multiply them: one password check per HTTP request (the same
    allowance as login), the rest refused before any bcrypt work or any count."""
    guesses = [
        {
            "query": CHANGE,
            "variables": {
                "input": {"currentPassword": f"Guess-{n}-Aa", "newPassword": NEW_PASSWORD}
            },
        }
        for n in range(5)
    ]
    answers = client.post("/graphql", json=guesses, headers=alice.headers).json()
    codes = sorted(code for answer in answers for code in error_codes(answer))
    assert codes == ["RATE_LIMITED"] * 4 + ["UNAUTHENTICATED"]
    for _ in range(settings.login_max_failures - 2):  # room for exactly one more failure
        change(client, alice, "Wrong-Horse-1")
    assert logs_in(client, alice.email, alice.password)
