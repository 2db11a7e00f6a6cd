"""GraphQL accounts and tokens: the same rules as REST, through the other door."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.factory import create_app
from app.settings import Settings
from tests.support import PASSWORD, Account, error_codes, graphql, signup

SIGNUP = """
mutation($input: SignupInput!) {
  signup(input: $input) { user { id email name createdAt } tokens { accessToken refreshToken
  tokenType expiresIn } }
}
"""
LOGIN = """
mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { user { email } tokens { accessToken
  refreshToken } }
}
"""
REFRESH = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }"


def test_signup_returns_the_user_and_working_tokens(client: TestClient) -> None:
    body = graphql(
        client,
        SIGNUP,
        {"input": {"email": " Ann@Example.com", "name": " Ann ", "password": PASSWORD}},
    )
    payload = body["data"]["signup"]
    assert payload["user"]["email"] == "ann@example.com"
    assert payload["user"]["name"] == "Ann"
    assert payload["tokens"]["tokenType"] == "bearer"
    assert payload["tokens"]["expiresIn"] == 900
    headers = {"Authorization": f"Bearer {payload['tokens']['accessToken']}"}
    assert client.get("/api/auth/me", headers=headers).json()["id"] == payload["user"]["id"]


def test_signup_of_a_registered_email_is_bad_user_input_on_email(client: TestClient) -> None:
    signup(client, "ann@example.com")
    body = graphql(
        client, SIGNUP, {"input": {"email": "ANN@example.com", "name": "A", "password": PASSWORD}}
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["message"] == "Email already registered"
    assert body["errors"][0]["extensions"]["field"] == "email"


def test_weak_password_is_bad_user_input_on_password(client: TestClient) -> None:
    body = graphql(
        client, SIGNUP, {"input": {"email": "a@example.com", "name": "A", "password": "weak"}}
    )
    assert body["errors"][0]["extensions"]["field"] == "password"


def test_login_returns_tokens(client: TestClient) -> None:
    signup(client, "ann@example.com")
    body = graphql(client, LOGIN, {"email": "ann@example.com", "password": PASSWORD})
    assert body["data"]["login"]["user"]["email"] == "ann@example.com"


@pytest.mark.parametrize("email", ["ann@example.com", "nobody@example.com"])
def test_failed_login_is_unauthenticated_invalid_credentials(
    client: TestClient, email: str
) -> None:
    signup(client, "ann@example.com")
    body = graphql(client, LOGIN, {"email": email, "password": "Wrong-pass-1"})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == "Invalid credentials"


def test_refresh_token_rotates_and_replay_revokes_the_chain(
    client: TestClient, alice: Account
) -> None:
    second = graphql(client, REFRESH, {"t": alice.refresh_token})["data"]["refreshToken"]
    third = graphql(client, REFRESH, {"t": second["refreshToken"]})["data"]["refreshToken"]
    replay = graphql(client, REFRESH, {"t": alice.refresh_token})  # its successor was used
    assert error_codes(replay) == ["UNAUTHENTICATED"]
    assert error_codes(graphql(client, REFRESH, {"t": third["refreshToken"]})) == [
        "UNAUTHENTICATED"
    ]


def test_logout_revokes_the_refresh_token(client: TestClient, alice: Account) -> None:
    body = graphql(
        client,
        "mutation($t: String!) { logout(refreshToken: $t) }",
        {"t": alice.refresh_token},
        account=alice,
    )
    assert body == {"data": {"logout": True}}
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token}).status_code
        == 401
    )


def test_tokens_from_rest_work_in_graphql_and_back(client: TestClient, alice: Account) -> None:
    body = graphql(client, "{ me { email } }", account=alice)
    assert body["data"]["me"]["email"] == alice.email
    refreshed = graphql(client, REFRESH, {"t": alice.refresh_token})["data"]["refreshToken"]
    rest = client.post("/api/auth/refresh", json={"refresh_token": refreshed["refreshToken"]})
    assert rest.status_code == 200


class TestThrottling:
    @pytest.fixture
    def app(self, make_settings: Callable[..., Settings]) -> FastAPI:
        return create_app(make_settings(login_max_failures=3, login_window_seconds=60))

    def test_rate_limited_after_the_limit(self, client: TestClient) -> None:
        signup(client, "ann@example.com")
        codes = [
            error_codes(
                graphql(client, LOGIN, {"email": "ann@example.com", "password": "Wrong-1a"})
            )
            for _ in range(4)
        ]
        assert codes == [["UNAUTHENTICATED"]] * 3 + [["RATE_LIMITED"]]

    def test_aliased_logins_count_every_attempt_that_runs(self, client: TestClient) -> None:
        """Mutations run in order and stop at the first error (`login` is non-null), so each
        operation makes one failed attempt; none of them slips past the limit."""
        signup(client, "ann@example.com")
        aliases = " ".join(
            f'a{i}: login(input: {{email: "ann@example.com", password: "Wrong-1a"}}) '
            "{ user { id } }"
            for i in range(5)
        )
        first_codes = [
            error_codes(graphql(client, f"mutation {{ {aliases} }}"))[0] for _ in range(4)
        ]
        assert first_codes == ["UNAUTHENTICATED"] * 3 + ["RATE_LIMITED"]

    def test_a_batch_of_logins_checks_one_password_and_counts_one_failure(
        self, client: TestClient
    ) -> None:
        """One password check per HTTP request: the other operations of the batch are
        RATE_LIMITED without checking anything, so they count nothing either."""
        signup(client, "ann@example.com")
        operation: dict[str, Any] = {
            "query": LOGIN,
            "variables": {"email": "ann@example.com", "password": "Wrong-1a"},
        }
        response = client.post("/graphql", json=[operation] * 5)
        codes = [error_codes(result) for result in response.json()]
        assert sorted(codes) == [["RATE_LIMITED"]] * 4 + [["UNAUTHENTICATED"]]
        wrong = {"email": "ann@example.com", "password": "Wrong-1a"}
        assert [client.post("/api/auth/login", json=wrong).status_code for _ in range(3)] == [
            401,
            401,
            429,
        ]
