"""Sessions (contract: Authentication, "Sessions"): access tokens carry their session, and a
request authenticates only while it is live, so an ended session stops its access tokens at
once, on both doors. A person lists their live sessions and ends any of them."""

import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import col, update

from app.settings import Settings
from models.session import LoginSession
from models.token import RefreshToken
from models.utc import utcnow
from tests.support import Account, create_task, database, error_codes, graphql, login

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


def log_out(client: TestClient, account: Account) -> None:
    body = {"refresh_token": account.refresh_token}
    assert client.post("/api/auth/logout", json=body, headers=account.headers).status_code == 200


PAGES = [
    "{ tasks { nodes { id } } }",
    "{ tasks { nodes { owner { name } } } }",
    "{ trash { nodes { id owner { email } } } }",
]


@pytest.mark.parametrize("query", PAGES)
def test_a_page_with_tasks_on_it_is_refused_once_the_session_has_ended(
    client: TestClient, alice: Account, query: str
) -> None:
    """Its own statement checks the session: the tasks it found are not answered."""
    create_task(client, alice, "live")
    trashed = create_task(client, alice, "trashed")
    client.delete(f"/api/tasks/{trashed['id']}", headers=alice.headers)
    log_out(client, alice)
    body = graphql(client, query, account=alice)
    assert (body["data"], error_codes(body)) == (None, ["UNAUTHENTICATED"])


def test_a_page_after_a_cursor_is_refused_once_the_session_has_ended(
    client: TestClient, alice: Account
) -> None:
    for title in ("one", "two", "three"):
        create_task(client, alice, title)
    first = graphql(client, "{ tasks(first: 1) { pageInfo { endCursor } } }", account=alice)
    log_out(client, alice)
    query = "query ($a: String) { tasks(after: $a) { nodes { owner { name } } } }"
    body = graphql(client, query, {"a": first["data"]["tasks"]["pageInfo"]["endCursor"]}, alice)
    assert (body["data"], error_codes(body)) == (None, ["UNAUTHENTICATED"])


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


SESSIONS = "{ sessions { id createdAt lastUsedAt userAgent current } }"


def sessions_of(client: TestClient, account: Account) -> list[dict[str, Any]]:
    response = client.get("/api/auth/sessions", headers=account.headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def session_id_of(account: Account) -> str:
    return str(jwt.decode(account.access_token, options={"verify_signature": False})["sid"])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def revoke(client: TestClient, account: Account, session_id: str) -> Response:
    return client.delete(f"/api/auth/sessions/{session_id}", headers=account.headers)


def test_sessions_lists_each_login_newest_first(client: TestClient, alice: Account) -> None:
    second, third = login(client, alice.email), login(client, alice.email)
    listed = [session["id"] for session in sessions_of(client, alice)]
    assert listed == [session_id_of(third), session_id_of(second), session_id_of(alice)]


def test_sessions_marks_the_callers_own_as_current(client: TestClient, alice: Account) -> None:
    other = login(client, alice.email)
    current = {session["id"]: session["current"] for session in sessions_of(client, other)}
    assert current == {session_id_of(other): True, session_id_of(alice): False}


def test_a_session_shows_the_fields_of_the_contract(client: TestClient, alice: Account) -> None:
    (session,) = sessions_of(client, alice)
    assert set(session) == {"id", "created_at", "last_used_at", "user_agent", "current"}
    assert session["created_at"] == session["last_used_at"]


def test_a_session_shows_the_user_agent_that_logged_in(client: TestClient, alice: Account) -> None:
    phone = {"User-Agent": "TodoPhone/2.1 (Android 15)"}
    body = {"email": alice.email, "password": alice.password}
    tokens = client.post("/api/auth/login", json=body, headers=phone).json()
    on_phone = Account(alice.email, alice.password, tokens["access_token"], tokens["refresh_token"])
    agents = {session["id"]: session["user_agent"] for session in sessions_of(client, alice)}
    assert agents == {
        session_id_of(on_phone): phone["User-Agent"],
        session_id_of(alice): "testclient",
    }


def test_a_long_user_agent_is_clipped(client: TestClient, alice: Account) -> None:
    body = {"email": alice.email, "password": alice.password}
    client.post("/api/auth/login", json=body, headers={"User-Agent": "x" * 5000})
    agents = [session["user_agent"] for session in sessions_of(client, alice)]
    assert agents == ["x" * 255, "testclient"]


def test_a_refresh_moves_last_used_at_and_keeps_created_at(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    long_ago = utcnow() - timedelta(days=2)
    with database(settings) as session:
        session.exec(update(LoginSession).values(created_at=long_ago, last_used_at=long_ago))
        session.commit()
    client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})
    (listed,) = sessions_of(client, alice)
    assert datetime.fromisoformat(listed["created_at"]) == long_ago
    assert datetime.fromisoformat(listed["last_used_at"]) > long_ago + timedelta(days=1)


def test_an_ended_session_is_not_listed(client: TestClient, alice: Account) -> None:
    other = login(client, alice.email)
    client.post(
        "/api/auth/logout", json={"refresh_token": other.refresh_token}, headers=other.headers
    )
    assert [session["id"] for session in sessions_of(client, alice)] == [session_id_of(alice)]


def test_a_session_whose_refresh_token_expired_is_not_listed(
    client: TestClient, alice: Account, settings: Settings
) -> None:
    other = login(client, alice.email)
    with database(settings) as session:
        session.exec(
            update(RefreshToken)
            .where(col(RefreshToken.session_id) == uuid.UUID(session_id_of(other)))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    assert [session["id"] for session in sessions_of(client, alice)] == [session_id_of(alice)]


def test_sessions_never_shows_another_users(
    client: TestClient, alice: Account, bob: Account
) -> None:
    assert [session["id"] for session in sessions_of(client, bob)] == [session_id_of(bob)]


def test_sessions_through_graphql_match_rest(client: TestClient, alice: Account) -> None:
    login(client, alice.email)
    rest = sessions_of(client, alice)
    served = graphql(client, SESSIONS, account=alice)["data"]["sessions"]
    assert [
        (s["id"], at(s["createdAt"]), at(s["lastUsedAt"]), s["userAgent"], s["current"])
        for s in served
    ] == [
        (s["id"], at(s["created_at"]), at(s["last_used_at"]), s["user_agent"], s["current"])
        for s in rest
    ]


def test_revoking_a_session_stops_its_access_tokens_at_once(
    client: TestClient, alice: Account
) -> None:
    other = login(client, alice.email)
    response = revoke(client, alice, session_id_of(other))
    assert (response.status_code, response.json()) == (200, {"message": "Session revoked"})
    assert not works_on_both_doors(client, other)
    assert works_on_both_doors(client, alice)


def test_a_revoked_session_cannot_refresh(client: TestClient, alice: Account) -> None:
    other = login(client, alice.email)
    revoke(client, alice, session_id_of(other))
    response = client.post("/api/auth/refresh", json={"refresh_token": other.refresh_token})
    assert response.status_code == 401


def test_revoking_the_callers_own_session_ends_it(client: TestClient, alice: Account) -> None:
    assert revoke(client, alice, session_id_of(alice)).status_code == 200
    assert not works_on_both_doors(client, alice)


def test_revoke_session_through_graphql_stops_it_too(client: TestClient, alice: Account) -> None:
    other = login(client, alice.email)
    mutation = "mutation($id: UUID!) { revokeSession(id: $id) }"
    body = graphql(client, mutation, {"id": session_id_of(other)}, account=alice)
    assert body == {"data": {"revokeSession": True}}
    assert not works_on_both_doors(client, other)


def test_revoking_another_users_session_is_not_found_and_ends_nothing(
    client: TestClient, alice: Account, bob: Account
) -> None:
    response = revoke(client, alice, session_id_of(bob))
    assert (response.status_code, response.json()) == (404, {"detail": "Session not found"})
    mutation = "mutation($id: UUID!) { revokeSession(id: $id) }"
    body = graphql(client, mutation, {"id": session_id_of(bob)}, account=alice)
    assert error_codes(body) == ["NOT_FOUND"]
    assert works_on_both_doors(client, bob)


def test_revoking_an_unknown_session_is_not_found(client: TestClient, alice: Account) -> None:
    response = revoke(client, alice, str(uuid.uuid4()))
    assert (response.status_code, response.json()) == (404, {"detail": "Session not found"})


def test_revoking_an_ended_session_is_not_found(client: TestClient, alice: Account) -> None:
    other = login(client, alice.email)
    revoke(client, alice, session_id_of(other))
    assert revoke(client, alice, session_id_of(other)).status_code == 404


def test_a_session_id_that_is_no_uuid_is_a_400(client: TestClient, alice: Account) -> None:
    response = revoke(client, alice, "not-a-uuid")
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["session_id"]
