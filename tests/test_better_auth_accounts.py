"""Accounts of Better Auth sign-ins on the REST door (contract: "Front ends that sign in with
Better Auth"): the first token of an identity makes its user, later ones reach it and keep it up to
date; an email that has an account here is linked, never taken over; accounts without a password;
deleting the account ends its Better Auth tokens; such tokens belong to no session of this service.

Every token comes from the session's real Better Auth server (tests/better_auth_server.py): from a
real sign-up (`better_auth.token`), or signed with its current key and claims of the test's own
(`better_auth.sign`), where a rule needs a claim the front end cannot choose."""

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from httpx import Response

from app.factory import create_app
from app.services import users
from app.settings import Settings
from app.statements import Runner
from models.user import User
from tests.better_auth_server import BetterAuthServer, bearer, new_email
from tests.support import PASSWORD, Account, create_task, register

EMAIL_TAKEN = {"detail": "Email already registered; link this sign-in to the account first"}
NO_PASSWORD = "This account has no password; it signs in with Better Auth"
SIGN_IN_AGAIN = {"detail": "Sign in again to delete the account"}
ACCOUNT_DELETED = {"message": "Account deleted"}
TASK_NOT_FOUND = {"detail": "Task not found"}


def now() -> int:
    return int(time.time())


def signed(
    better_auth: BetterAuthServer,
    *,
    sub: str | None = None,
    email: str | None = None,
    name: str | None = "Ada Lovelace",
    iat: int | None = None,
    **claims: Any,
) -> str:
    """A token of Better Auth's current key for the identity `sub` (a new one by default). Each
    carries a nonce: two tokens of the same claims and second would otherwise be the same string
    (Ed25519 signatures are deterministic), and some tests need a token never seen before."""
    given: dict[str, Any] = {
        "sub": sub or str(uuid.uuid4()),
        "email": email or new_email("ada"),
        "iat": now() if iat is None else iat,
        "nonce": uuid.uuid4().hex,
        **claims,
    }
    if name is not None:
        given["name"] = name
    return better_auth.sign(given)


def claims_of(token: str) -> dict[str, Any]:
    found: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return found


def another_token(better_auth: BetterAuthServer, token: str, **changes: Any) -> str:
    """A new token of the identity of `token`, issued now, with its email and name unless
    `changes` say otherwise."""
    claims = claims_of(token)
    given = {"email": claims["email"], "name": claims.get("name")} | changes
    return signed(better_auth, sub=claims["sub"], **given)


def me(client: TestClient, token: str) -> Response:
    return client.get("/api/auth/me", headers=bearer(token))


def user_id(client: TestClient, token: str) -> str:
    response = me(client, token)
    assert response.status_code == 200, response.text
    found: str = response.json()["id"]
    return found


def task_titles(client: TestClient, headers: dict[str, str]) -> list[str]:
    response = client.get("/api/tasks", headers=headers)
    assert response.status_code == 200, response.text
    return sorted(task["title"] for task in response.json())


def new_task(client: TestClient, token: str, title: str) -> Any:
    response = client.post("/api/tasks", json={"title": title}, headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()


def link(client: TestClient, account: Account, token: str) -> Response:
    return client.post("/api/auth/identities", json={"token": token}, headers=account.headers)


def delete_me(client: TestClient, token: str, body: dict[str, Any] | None = None) -> Response:
    return client.request("DELETE", "/api/auth/me", json=body, headers=bearer(token))


def assert_unauthenticated(response: Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"


def password_account_with_a_sign_in(
    better_auth: BetterAuthServer, client: TestClient
) -> tuple[Account, str]:
    """An account here with a password, and a real Better Auth token of the same email (of a
    sign-up on the Better Auth server, not linked yet)."""
    email = new_email("owner")
    account = register(client, email)
    return account, better_auth.token(better_auth.sign_up(email, name="Owner"))


# Signing in ----------------------------------------------------------------------------------


def test_a_real_better_auth_token_authenticates_with_the_email_normalised_and_its_name(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    email = f"Ada-{uuid.uuid4().hex[:12]}@Example.COM"
    token = better_auth.token(better_auth.sign_up(email, name="Ada Lovelace"))

    response = me(better_auth_client, token)

    assert response.status_code == 200, response.text
    assert (response.json()["email"], response.json()["name"]) == (email.lower(), "Ada Lovelace")


def test_a_tokens_mixed_case_email_is_stored_normalised(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    email = f"Ada-{uuid.uuid4().hex[:12]}@Example.COM"
    response = me(better_auth_client, signed(better_auth, email=email))
    assert response.status_code == 200, response.text
    assert response.json()["email"] == email.lower()


def test_later_tokens_of_an_identity_reach_the_user_its_first_token_made(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    first = better_auth.token(better_auth.sign_up(new_email("ada")))
    made = user_id(better_auth_client, first)
    new_task(better_auth_client, first, "written with the first token")

    later = another_token(better_auth, first)

    assert later != first
    assert user_id(better_auth_client, later) == made
    assert task_titles(better_auth_client, bearer(later)) == ["written with the first token"]


def test_tasks_of_a_better_auth_user_are_isolated_as_any_users(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    ada = better_auth.token(better_auth.sign_up(new_email("ada")))
    grace = better_auth.token(better_auth.sign_up(new_email("grace")))
    adas = new_task(better_auth_client, ada, "Ada's")
    graces = new_task(better_auth_client, grace, "Grace's")

    for method in ("GET", "PATCH", "DELETE"):
        body = {"title": "taken"} if method == "PATCH" else None
        response = better_auth_client.request(
            method, f"/api/tasks/{graces['id']}", json=body, headers=bearer(ada)
        )
        assert (response.status_code, response.json()) == (404, TASK_NOT_FOUND), method
    assert task_titles(better_auth_client, bearer(ada)) == ["Ada's"]
    assert task_titles(better_auth_client, bearer(grace)) == ["Grace's"]
    own = better_auth_client.get(f"/api/tasks/{adas['id']}", headers=bearer(ada))
    assert own.status_code == 200


@pytest.mark.parametrize(
    "name",
    ["   ", "Ada\u0007Lovelace", "a" * 256, ""],
    ids=["only whitespace", "a control character", "256 characters", "empty"],
)
def test_a_name_claim_breaking_the_name_rules_gives_the_emails_local_part(
    better_auth: BetterAuthServer, better_auth_client: TestClient, name: str
) -> None:
    email = new_email("local-part")
    response = me(better_auth_client, signed(better_auth, email=email, name=name))
    assert response.status_code == 200, response.text
    assert response.json()["name"] == email.partition("@")[0]


def test_no_name_claim_gives_the_emails_local_part(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    email = new_email("nameless")
    response = me(better_auth_client, signed(better_auth, email=email, name=None))
    assert response.status_code == 200, response.text
    assert response.json()["name"] == email.partition("@")[0]


def test_later_tokens_keep_the_email_and_name_up_to_date(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    first = signed(better_auth, name="Ada Byron")
    made = user_id(better_auth_client, first)
    changed_email = new_email("Lovelace").replace("example.com", "Example.ORG")

    later = another_token(better_auth, first, email=changed_email, name="Ada Lovelace")
    response = me(better_auth_client, later)

    assert response.status_code == 200, response.text
    assert response.json() == {
        **response.json(),
        "id": made,
        "email": changed_email.lower(),
        "name": "Ada Lovelace",
    }


# An email that already has an account here ----------------------------------------------------


def test_a_first_token_whose_email_has_a_password_account_is_a_conflict(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    account, token = password_account_with_a_sign_in(better_auth, better_auth_client)
    create_task(better_auth_client, account, "mine")

    response = me(better_auth_client, token)

    assert (response.status_code, response.json()) == (409, EMAIL_TAKEN)
    again = better_auth_client.post("/api/tasks", json={"title": "x"}, headers=bearer(token))
    assert (again.status_code, again.json()) == (409, EMAIL_TAKEN)  # nothing was made meanwhile
    logged_in = better_auth_client.post(
        "/api/auth/login", json={"email": account.email, "password": PASSWORD}
    )
    assert logged_in.status_code == 200
    assert task_titles(better_auth_client, account.headers) == ["mine"]


def test_a_conflicting_email_differing_only_in_case_is_a_conflict_too(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    account = register(better_auth_client, new_email("owner"))
    token = signed(better_auth, email=account.email.upper())
    response = me(better_auth_client, token)
    assert (response.status_code, response.json()) == (409, EMAIL_TAKEN)


def test_linking_answers_the_account_and_then_the_sign_in_reaches_its_tasks(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    account, token = password_account_with_a_sign_in(better_auth, better_auth_client)
    create_task(better_auth_client, account, "mine")
    own = better_auth_client.get("/api/auth/me", headers=account.headers).json()

    linked = link(better_auth_client, account, token)

    assert linked.status_code == 200, linked.text
    assert (linked.json()["id"], linked.json()["email"]) == (own["id"], account.email)
    assert user_id(better_auth_client, token) == own["id"]
    assert task_titles(better_auth_client, bearer(token)) == ["mine"]
    new_task(better_auth_client, token, "written with Better Auth")
    assert task_titles(better_auth_client, account.headers) == ["mine", "written with Better Auth"]


def test_the_password_still_logs_in_to_a_linked_account(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    account, token = password_account_with_a_sign_in(better_auth, better_auth_client)
    assert link(better_auth_client, account, token).status_code == 200
    response = better_auth_client.post(
        "/api/auth/login", json={"email": account.email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text


def test_linking_again_answers_200_and_changes_nothing(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    account, token = password_account_with_a_sign_in(better_auth, better_auth_client)
    first = link(better_auth_client, account, token)
    assert first.status_code == 200

    again = link(better_auth_client, account, another_token(better_auth, token))

    assert (again.status_code, again.json()) == (200, first.json())
    assert user_id(better_auth_client, token) == first.json()["id"]


def test_linking_an_identity_that_belongs_to_another_account_is_a_conflict(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    someone = better_auth.token(better_auth.sign_up(new_email("someone")))
    theirs = user_id(better_auth_client, someone)  # the identity made its own account
    new_task(better_auth_client, someone, "theirs")
    account = register(better_auth_client, new_email("owner"))

    response = link(better_auth_client, account, another_token(better_auth, someone))

    assert response.status_code == 409, response.text
    assert user_id(better_auth_client, someone) == theirs
    assert task_titles(better_auth_client, bearer(someone)) == ["theirs"]
    assert task_titles(better_auth_client, account.headers) == []


def test_linking_a_second_identity_of_the_same_issuer_is_a_conflict(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    account, token = password_account_with_a_sign_in(better_auth, better_auth_client)
    assert link(better_auth_client, account, token).status_code == 200
    second = signed(better_auth)  # another identity of the same Better Auth server

    response = link(better_auth_client, account, second)

    assert response.status_code == 409, response.text
    owner = user_id(better_auth_client, token)
    assert user_id(better_auth_client, second) != owner  # it was not linked: it made its own


def test_an_account_made_by_a_sign_in_cannot_link_a_second_identity_of_its_issuer(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = signed(better_auth)
    second = signed(better_auth)
    response = better_auth_client.post(
        "/api/auth/identities", json={"token": second}, headers=bearer(token)
    )
    assert response.status_code == 409, response.text


def test_linking_without_authentication_is_401(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    account, token = password_account_with_a_sign_in(better_auth, better_auth_client)
    response = better_auth_client.post("/api/auth/identities", json={"token": token})
    assert_unauthenticated(response)
    still = me(better_auth_client, token)
    assert (still.status_code, still.json()) == (409, EMAIL_TAKEN)  # nothing was linked
    assert better_auth_client.get("/api/auth/me", headers=account.headers).status_code == 200


def forged_tokens(better_auth: BetterAuthServer, email: str) -> dict[str, str]:
    """Tokens of the Better Auth issuer and `email` that no key of its set signed."""
    real = claims_of(signed(better_auth, email=email))
    return {
        "garbage": "not-a-jwt",
        "signed with Better Auth's secret": jwt.encode(real, better_auth.secret, algorithm="HS256"),
        "signed by a key outside the set": jwt.encode(
            real,
            Ed25519PrivateKey.generate(),
            algorithm="EdDSA",
            headers={"kid": "a-kid-of-no-set"},
        ),
        "expired": signed(better_auth, email=email, iat=now() - 1000, exp=now() - 100),
    }


@pytest.mark.parametrize(
    "kind",
    ["garbage", "signed with Better Auth's secret", "signed by a key outside the set", "expired"],
)
def test_linking_a_token_that_is_not_accepted_is_401_and_links_nothing(
    better_auth: BetterAuthServer, better_auth_client: TestClient, kind: str
) -> None:
    account = register(better_auth_client, new_email("owner"))
    response = link(better_auth_client, account, forged_tokens(better_auth, account.email)[kind])
    assert_unauthenticated(response)
    assert better_auth_client.get("/api/auth/me", headers=account.headers).status_code == 200
    proper = signed(better_auth, email=account.email)
    unlinked = me(better_auth_client, proper)
    assert (unlinked.status_code, unlinked.json()) == (409, EMAIL_TAKEN)  # still none linked
    assert link(better_auth_client, account, proper).status_code == 200


# Accounts without a password -------------------------------------------------------------------


def test_a_password_login_to_an_account_without_a_password_answers_as_a_wrong_password(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    email = new_email("nopass")
    token = better_auth.token(better_auth.sign_up(email, password="correct-horse-battery"))
    assert me(better_auth_client, token).status_code == 200
    someone = register(better_auth_client, new_email("someone"))
    wrong = better_auth_client.post(
        "/api/auth/login", json={"email": someone.email, "password": "Wrong-Horse-9"}
    )
    assert (wrong.status_code, wrong.json()) == (401, {"detail": "Invalid credentials"})

    for password in ("correct-horse-battery", PASSWORD, "!"):  # its Better Auth one, and others
        response = better_auth_client.post(
            "/api/auth/login", json={"email": email, "password": password}
        )
        assert (response.status_code, response.json()) == (wrong.status_code, wrong.json())
        assert response.headers["WWW-Authenticate"] == wrong.headers["WWW-Authenticate"]


def test_changing_the_password_of_an_account_without_one_is_400(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = better_auth.token(better_auth.sign_up(new_email("nopass")))
    response = better_auth_client.post(
        "/api/auth/password",
        json={"current_password": "anything-at-all", "new_password": "Another-Horse-9"},
        headers=bearer(token),
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == NO_PASSWORD


def test_a_sign_in_of_the_last_5_minutes_deletes_the_account_without_a_password(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = signed(better_auth, iat=now() - 240)
    new_task(better_auth_client, token, "goes")

    response = better_auth_client.delete("/api/auth/me", headers=bearer(token))

    assert (response.status_code, response.json()) == (200, ACCOUNT_DELETED)
    assert_unauthenticated(me(better_auth_client, token))


def test_a_real_fresh_token_deletes_the_account_without_a_body(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = better_auth.token(better_auth.sign_up(new_email("leaving")))
    assert me(better_auth_client, token).status_code == 200
    response = better_auth_client.delete("/api/auth/me", headers=bearer(token))
    assert (response.status_code, response.json()) == (200, ACCOUNT_DELETED)


def test_a_sign_in_older_than_5_minutes_must_sign_in_again_to_delete(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    stale = signed(better_auth, iat=now() - 360, exp=now() + 600)
    new_task(better_auth_client, stale, "stays")

    for body in (None, {"password": PASSWORD}):
        response = delete_me(better_auth_client, stale, body)
        assert (response.status_code, response.json()) == (401, SIGN_IN_AGAIN), body
        assert response.headers["WWW-Authenticate"] == "Bearer"

    assert me(better_auth_client, stale).status_code == 200
    assert task_titles(better_auth_client, bearer(stale)) == ["stays"]


def test_a_linked_account_deletes_with_its_password_after_an_older_sign_in(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    """An account that has a password may prove it is its owner's with it instead."""
    account, token = password_account_with_a_sign_in(better_auth, better_auth_client)
    assert link(better_auth_client, account, token).status_code == 200
    stale = another_token(better_auth, token, iat=now() - 360, exp=now() + 600)

    wrong = delete_me(better_auth_client, stale, {"password": "Wrong-Horse-9"})
    assert (wrong.status_code, wrong.json()) == (401, {"detail": "Invalid credentials"})
    without = delete_me(better_auth_client, stale)
    assert (without.status_code, without.json()) == (401, SIGN_IN_AGAIN)
    right = delete_me(better_auth_client, stale, {"password": PASSWORD})
    assert (right.status_code, right.json()) == (200, ACCOUNT_DELETED)


def test_with_the_services_own_token_deleting_needs_the_password_as_before(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    """A linked account signs in both ways; its own tokens still need the password."""
    account, token = password_account_with_a_sign_in(better_auth, better_auth_client)
    assert link(better_auth_client, account, token).status_code == 200

    missing = better_auth_client.delete("/api/auth/me", headers=account.headers)
    assert missing.status_code == 400, missing.text
    assert [error["field"] for error in missing.json()["errors"]] == ["password"]
    wrong = delete_me(better_auth_client, account.access_token, {"password": "Wrong-Horse-9"})
    assert (wrong.status_code, wrong.json()) == (401, {"detail": "Invalid credentials"})
    assert user_id(better_auth_client, token)  # the account remains

    right = delete_me(better_auth_client, account.access_token, {"password": PASSWORD})
    assert (right.status_code, right.json()) == (200, ACCOUNT_DELETED)


# Deleting the account ends its Better Auth tokens ------------------------------------------------


def test_the_token_that_deleted_the_account_no_longer_authenticates(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = better_auth.token(better_auth.sign_up(new_email("gone")))
    new_task(better_auth_client, token, "gone")
    assert delete_me(better_auth_client, token).status_code == 200

    assert_unauthenticated(me(better_auth_client, token))
    assert_unauthenticated(better_auth_client.get("/api/tasks", headers=bearer(token)))


def test_a_token_issued_before_the_deletion_and_never_used_is_401(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = better_auth.token(better_auth.sign_up(new_email("gone")))
    unused = another_token(better_auth, token)
    assert delete_me(better_auth_client, token).status_code == 200

    assert_unauthenticated(me(better_auth_client, unused))
    assert_unauthenticated(better_auth_client.get("/api/tasks", headers=bearer(unused)))


def test_a_token_issued_after_the_deletion_makes_a_new_empty_account(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    session = better_auth.sign_up(new_email("again"))
    token = better_auth.token(session)
    deleted = user_id(better_auth_client, token)
    new_task(better_auth_client, token, "gone with the account")
    assert delete_me(better_auth_client, token).status_code == 200
    deleted_by = time.time()
    time.sleep(int(deleted_by) + 1 - deleted_by + 0.05)  # into the next whole second of `iat`

    after = better_auth.token(session)  # what the front end gets next

    assert claims_of(after)["iat"] > deleted_by
    made = user_id(better_auth_client, after)
    assert made != deleted
    assert task_titles(better_auth_client, bearer(after)) == []
    assert_unauthenticated(me(better_auth_client, token))  # the old one stays refused


# Sessions ----------------------------------------------------------------------------------------


def test_a_better_auth_token_belongs_to_no_session_of_this_service(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = better_auth.token(better_auth.sign_up(new_email("sessionless")))
    response = better_auth_client.get("/api/auth/sessions", headers=bearer(token))
    assert (response.status_code, response.json()) == (200, [])


def test_the_sessions_of_a_linked_account_do_not_list_its_better_auth_token(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    account, token = password_account_with_a_sign_in(better_auth, better_auth_client)
    assert link(better_auth_client, account, token).status_code == 200
    listed = better_auth_client.get("/api/auth/sessions", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    assert [session["current"] for session in listed.json()] == [False]  # the login's only


def test_a_better_auth_token_cannot_be_revoked_here(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = better_auth.token(better_auth.sign_up(new_email("sessionless")))
    assert me(better_auth_client, token).status_code == 200

    response = better_auth_client.delete(
        f"/api/auth/sessions/{uuid.uuid4()}", headers=bearer(token)
    )

    assert (response.status_code, response.json()) == (404, {"detail": "Session not found"})
    assert me(better_auth_client, token).status_code == 200


def test_refresh_does_not_take_a_better_auth_token(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = better_auth.token(better_auth.sign_up(new_email("norefresh")))
    assert me(better_auth_client, token).status_code == 200
    response = better_auth_client.post("/api/auth/refresh", json={"refresh_token": token})
    assert_unauthenticated(response)


def test_logout_does_not_take_a_better_auth_token(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = better_auth.token(better_auth.sign_up(new_email("nologout")))
    response = better_auth_client.post(
        "/api/auth/logout", json={"refresh_token": token}, headers=bearer(token)
    )
    assert_unauthenticated(response)
    assert me(better_auth_client, token).status_code == 200


# The service's own tokens, and a service without Better Auth -------------------------------------


def test_the_services_own_tokens_work_unchanged_beside_better_auth(
    better_auth_client: TestClient,
) -> None:
    account = register(better_auth_client, new_email("own"))
    me_response = better_auth_client.get("/api/auth/me", headers=account.headers)
    assert (me_response.status_code, me_response.json()["email"]) == (200, account.email)
    create_task(better_auth_client, account, "own")
    assert task_titles(better_auth_client, account.headers) == ["own"]
    refreshed = better_auth_client.post(
        "/api/auth/refresh", json={"refresh_token": account.refresh_token}
    )
    assert refreshed.status_code == 200, refreshed.text
    headers = bearer(refreshed.json()["access_token"])
    assert task_titles(better_auth_client, headers) == ["own"]
    sessions = better_auth_client.get("/api/auth/sessions", headers=headers).json()
    assert [session["current"] for session in sessions] == [True]


def test_without_better_auth_url_a_better_auth_token_is_401(
    better_auth: BetterAuthServer, client: TestClient
) -> None:
    token = better_auth.token(better_auth.sign_up(new_email("ignored")))
    assert_unauthenticated(me(client, token))


def test_without_better_auth_url_linking_is_400(
    better_auth: BetterAuthServer, client: TestClient, alice: Account
) -> None:
    token = better_auth.token(better_auth.sign_up(new_email("ignored")))
    response = link(client, alice, token)
    assert response.status_code == 400, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["token"]


# Many at once ------------------------------------------------------------------------------------


def test_simultaneous_first_requests_of_one_token_make_one_user(
    better_auth: BetterAuthServer,
    better_auth_client: TestClient,
) -> None:
    token = better_auth.token(better_auth.sign_up(new_email("crowd")))

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: me(better_auth_client, token), range(20)))

    assert [response.status_code for response in responses] == [200] * 20, [
        response.text for response in responses if response.status_code != 200
    ]
    assert len({response.json()["id"] for response in responses}) == 1


def test_simultaneous_first_tokens_of_one_identity_make_one_user(
    better_auth: BetterAuthServer,
    better_auth_client: TestClient,
) -> None:
    """Twenty different tokens of one new identity (no cache can merge them)."""
    sub, email = str(uuid.uuid4()), new_email("crowd")
    tokens = [signed(better_auth, sub=sub, email=email) for _ in range(20)]

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda token: me(better_auth_client, token), tokens))

    assert [response.status_code for response in responses] == [200] * 20, [
        response.text for response in responses if response.status_code != 200
    ]
    assert len({response.json()["id"] for response in responses}) == 1


def test_a_first_token_whose_rival_commits_first_reaches_the_rivals_user(
    better_auth: BetterAuthServer,
    better_auth_client: TestClient,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race of the crowd tests, made certain: a first token's request has found no identity
    when a rival first token of the same identity, at another instance of the service, signs in
    and commits; only then does the first request look the email up."""
    sub, email = str(uuid.uuid4()), new_email("rival")
    first = signed(better_auth, sub=sub, email=email)
    rival = signed(better_auth, sub=sub, email=email)
    real_by_email = users.by_email
    lookups: list[str] = []
    rivals: list[Response] = []

    with TestClient(create_app(make_settings(better_auth_url=better_auth.url))) as other:

        def by_email_once_the_rival_signed_in(runner: Runner, /, *, email: str) -> User | None:
            lookups.append(email)
            if len(lookups) == 1:  # the rival's own lookup (the second) is only the real one
                rivals.append(me(other, rival))
            return real_by_email(runner, email=email)

        monkeypatch.setattr(users, "by_email", by_email_once_the_rival_signed_in)
        response = me(better_auth_client, first)

    assert rivals, response.text
    assert rivals[0].status_code == 200, rivals[0].text
    assert (response.status_code, response.json()) == (200, rivals[0].json())
