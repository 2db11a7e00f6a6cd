"""Sessions (contract: Authentication, "Sessions"): access tokens carry their session, and a
request authenticates only while it is live, so an ended session stops its access tokens at
once, on both doors."""

from fastapi.testclient import TestClient

from tests.support import Account, error_codes, graphql, login

ME = "{ me { email } }"


def works_on_both_doors(client: TestClient, account: Account) -> bool:
    rest = client.get("/api/tasks", headers=account.headers).status_code
    body = graphql(client, ME, account=account)
    if rest == 200 and "errors" not in body:
        return True
    assert (rest, error_codes(body)) == (401, ["UNAUTHENTICATED"])
    return False


def test_an_access_token_works_while_its_session_is_live(
    client: TestClient, alice: Account
) -> None:
    assert works_on_both_doors(client, alice)


def test_logout_stops_the_sessions_access_tokens_at_once(
    client: TestClient, alice: Account
) -> None:
    body = {"refresh_token": alice.refresh_token}
    assert client.post("/api/auth/logout", json=body, headers=alice.headers).status_code == 200
    assert not works_on_both_doors(client, alice)


def test_logout_through_graphql_stops_them_too(client: TestClient, alice: Account) -> None:
    mutation = "mutation($t: String!) { logout(refreshToken: $t) }"
    assert graphql(client, mutation, {"t": alice.refresh_token}, account=alice)["data"]
    assert not works_on_both_doors(client, alice)


def test_logout_ends_only_its_own_session(client: TestClient, alice: Account) -> None:
    other = login(client, alice.email)
    client.post(
        "/api/auth/logout", json={"refresh_token": alice.refresh_token}, headers=alice.headers
    )
    assert works_on_both_doors(client, other)


def test_a_refresh_keeps_the_session_and_its_earlier_access_tokens(
    client: TestClient, alice: Account
) -> None:
    tokens = client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token}).json()
    refreshed = Account(
        alice.email, alice.password, tokens["access_token"], tokens["refresh_token"]
    )
    assert works_on_both_doors(client, refreshed)
    assert works_on_both_doors(client, alice)


def test_logout_with_a_rotated_refresh_token_still_ends_the_session(
    client: TestClient, alice: Account
) -> None:
    client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    body = {"refresh_token": alice.refresh_token}  # retired by the refresh, same chain
    assert client.post("/api/auth/logout", json=body, headers=alice.headers).status_code == 200
    assert not works_on_both_doors(client, alice)


def test_reuse_detection_stops_the_chains_access_tokens_at_once(
    client: TestClient, alice: Account
) -> None:
    """A retired refresh token presented again past the grace revokes its chain: the access
    tokens of that session stop working, not after their 15 minutes."""
    first = client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token}).json()
    client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    replay = client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert replay.status_code == 401
    assert not works_on_both_doors(client, alice)
