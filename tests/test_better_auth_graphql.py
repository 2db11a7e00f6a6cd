"""Better Auth tokens on the GraphQL door (contract: "Front ends that sign in with Better Auth"):
over HTTP (queries, mutations, the first sign-in of a taken email, linking, deleting the account)
and on `graphql-transport-ws` sockets (`connection_init`, events, the token's expiry, the key set's
outage, the account's deletion), with tokens of the session's real Better Auth server."""

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from tests.better_auth_server import BetterAuthServer, bearer, new_email
from tests.support import Account, close_code, create_task, error_codes, graphql, register

ME = "{ me { id email name } }"
TASKS = "{ tasks { totalCount nodes { id title } } }"
CREATE_TASK = "mutation($title: String!) { createTask(input: {title: $title}) { id title } }"
LINK = "mutation($token: String!) { linkIdentity(token: $token) { id email name } }"
DELETE_ACCOUNT = 'mutation { deleteAccount(password: "anything") }'
EVENTS = "subscription { taskEvents { kind taskId task { title } } }"
EMAIL_TAKEN = "Email already registered; link this sign-in to the account first"
PROTOCOL = ["graphql-transport-ws"]


def ask(client: TestClient, query: str, token: str, variables: dict[str, Any] | None = None) -> Any:
    """POST one operation with a bearer token; the decoded body."""
    response = client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    return response.json()


def signed_up(better_auth: BetterAuthServer, email: str, name: str = "Ada Lovelace") -> str:
    """A real JWT of Better Auth's for a new user of `email`, as the front end gets it."""
    return better_auth.token(better_auth.sign_up(email, name=name))


def with_bad_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


def claims(email: str, issued: int, lifetime: int) -> dict[str, Any]:
    """Claims for Better Auth's `sign`, of a new identity (it adds iss and aud)."""
    return {"sub": uuid.uuid4().hex, "email": email, "iat": issued, "exp": issued + lifetime}


def user_id(client: TestClient, token: str) -> uuid.UUID:
    return uuid.UUID(ask(client, ME, token)["data"]["me"]["id"])


# Over HTTP


def test_me_answers_the_better_auth_user(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    email = new_email("me")
    token = signed_up(better_auth, email, name="Ada Lovelace")
    body = ask(better_auth_client, ME, token)
    assert "errors" not in body, body
    found = body["data"]["me"]
    assert (found["email"], found["name"]) == (email, "Ada Lovelace")
    rest = better_auth_client.get("/api/auth/me", headers=bearer(token)).json()
    assert rest["id"] == found["id"]  # one user, whichever door


def test_create_task_and_tasks_work_with_a_better_auth_token(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = signed_up(better_auth, new_email("tasks"))
    created = ask(better_auth_client, CREATE_TASK, token, {"title": "Walk the dog"})
    assert "errors" not in created, created
    task = created["data"]["createTask"]
    assert task["title"] == "Walk the dog"
    listed = ask(better_auth_client, TASKS, token)["data"]["tasks"]
    assert listed == {"totalCount": 1, "nodes": [task]}


def test_a_better_auth_user_sees_only_its_own_tasks(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    mine = signed_up(better_auth, new_email("mine"))
    theirs = signed_up(better_auth, new_email("theirs"))
    ask(better_auth_client, CREATE_TASK, theirs, {"title": "Theirs"})
    assert ask(better_auth_client, TASKS, mine)["data"]["tasks"] == {"totalCount": 0, "nodes": []}


def test_an_invalid_better_auth_token_is_unauthenticated(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = signed_up(better_auth, new_email("invalid"))
    body = ask(better_auth_client, ME, with_bad_signature(token))
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


def test_a_first_token_whose_email_has_a_password_account_is_a_conflict(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    email = new_email("taken")
    owner = register(better_auth_client, email)
    body = ask(better_auth_client, ME, signed_up(better_auth, email, name="Mallory"))
    assert error_codes(body) == ["CONFLICT"]
    assert [error["message"] for error in body["errors"]] == [EMAIL_TAKEN]
    assert body["data"] is None
    untouched = graphql(better_auth_client, ME, account=owner)["data"]["me"]
    assert (untouched["email"], untouched["name"]) == (email, "Ada")  # support's sign-up name


def _linked(
    better_auth: BetterAuthServer, client: TestClient, email: str
) -> tuple[Account, str, Any]:
    """A password account of `email`, a Better Auth token of the same email, and the answer of
    linking that token with the account's own token."""
    account = register(client, email)
    token = signed_up(better_auth, email)
    return account, token, graphql(client, LINK, {"token": token}, account=account)


def test_link_identity_with_the_accounts_own_token_answers_the_user(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    email = new_email("link")
    account, _, linked = _linked(better_auth, better_auth_client, email)
    assert "errors" not in linked, linked
    own = graphql(better_auth_client, ME, account=account)["data"]["me"]
    assert linked["data"]["linkIdentity"] == own
    assert own["email"] == email


def test_after_linking_the_better_auth_token_reaches_the_same_tasks(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    account, token, _ = _linked(better_auth, better_auth_client, new_email("same"))
    before = create_task(better_auth_client, account, "Before linking")
    assert ask(better_auth_client, ME, token)["data"]["me"]["email"] == account.email
    listed = ask(better_auth_client, TASKS, token)["data"]["tasks"]
    assert listed == {"totalCount": 1, "nodes": [{"id": before["id"], "title": before["title"]}]}
    ask(better_auth_client, CREATE_TASK, token, {"title": "Through Better Auth"})
    own = graphql(better_auth_client, "{ tasks { totalCount } }", account=account)
    assert own["data"]["tasks"]["totalCount"] == 2


def test_linking_the_same_identity_again_changes_nothing(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    account, token, first = _linked(better_auth, better_auth_client, new_email("again"))
    again = graphql(better_auth_client, LINK, {"token": token}, account=account)
    assert "errors" not in again, again
    assert again["data"] == first["data"]


def test_a_second_account_linking_the_same_identity_is_a_conflict(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    _, token, first = _linked(better_auth, better_auth_client, new_email("first"))
    assert "errors" not in first, first
    other = register(better_auth_client, new_email("other"))
    body = graphql(better_auth_client, LINK, {"token": token}, account=other)
    assert error_codes(body) == ["CONFLICT"]
    assert body["data"] is None
    owner = ask(better_auth_client, ME, token)["data"]["me"]  # the identity stayed with the first
    assert owner["email"] == first["data"]["linkIdentity"]["email"]


def test_delete_account_with_a_fresh_better_auth_token_needs_no_password_and_ends_it(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = signed_up(better_auth, new_email("delete"))
    ask(better_auth_client, CREATE_TASK, token, {"title": "Goes with the account"})
    assert ask(better_auth_client, DELETE_ACCOUNT, token) == {"data": {"deleteAccount": True}}
    body = ask(better_auth_client, ME, token)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


def test_delete_account_with_a_better_auth_token_older_than_five_minutes_is_refused(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    email = new_email("old")
    token = better_auth.sign(claims(email, issued=int(time.time()) - 6 * 60, lifetime=900))
    body = ask(better_auth_client, DELETE_ACCOUNT, token)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert [error["message"] for error in body["errors"]] == ["Sign in again to delete the account"]
    assert ask(better_auth_client, ME, token)["data"]["me"]["email"] == email  # not deleted


# Over sockets


@contextmanager
def connected(client: TestClient, token: str) -> Iterator[WebSocketTestSession]:
    """A socket that sent `connection_init` with `{"Authorization": "Bearer <token>"}`."""
    with client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        yield ws


def subscribe(client: TestClient, ws: WebSocketTestSession, user: uuid.UUID) -> None:
    """Start `taskEvents` on `ws`, returning once the broker holds it (the protocol acknowledges
    no subscribe)."""
    app: FastAPI = client.app  # type: ignore[assignment]
    ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": EVENTS}})
    deadline = time.monotonic() + 5
    while app.state.runtime.broker.subscriptions_of(user) < 1:
        assert time.monotonic() < deadline, "the subscription never started"
        time.sleep(0.01)


def test_connection_init_with_a_better_auth_token_is_acknowledged(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    with connected(better_auth_client, signed_up(better_auth, new_email("socket"))) as ws:
        assert ws.receive_json() == {"type": "connection_ack"}


def test_a_better_auth_socket_gets_the_event_of_a_task_its_user_creates_over_rest(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = signed_up(better_auth, new_email("events"))
    user = user_id(better_auth_client, token)
    with connected(better_auth_client, token) as ws:
        assert ws.receive_json() == {"type": "connection_ack"}
        subscribe(better_auth_client, ws, user)
        task = {"title": "Announced"}
        response = better_auth_client.post("/api/tasks", json=task, headers=bearer(token))
        assert response.status_code == 201, response.text
        message = ws.receive_json()
    assert (message["type"], message["id"]) == ("next", "1")
    event = message["payload"]["data"]["taskEvents"]
    assert event == {"kind": "CREATED", "taskId": response.json()["id"], "task": task}


def test_a_better_auth_socket_closes_4401_when_its_token_expires(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    issued = int(time.time())
    # Three seconds: `exp` is whole seconds, so the token lives at least two, enough for
    # connection_init to find it valid on a loaded machine.
    token = better_auth.sign(claims(new_email("short"), issued=issued, lifetime=3))
    with connected(better_auth_client, token) as ws:
        assert ws.receive_json() == {"type": "connection_ack"}
        assert close_code(ws) == 4401
    assert time.time() >= issued + 3  # not before its time


def test_connection_init_with_an_invalid_better_auth_token_closes_4403(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = with_bad_signature(signed_up(better_auth, new_email("bad")))
    with connected(better_auth_client, token) as ws:
        assert close_code(ws) == 4403


def test_connection_init_while_the_key_set_is_down_closes_1013(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = signed_up(better_auth, new_email("outage"))
    better_auth.jwks_down()
    with connected(better_auth_client, token) as ws:
        assert close_code(ws) == 1013  # try again later, as with no database to ask


def test_deleting_the_account_closes_its_better_auth_socket_4401(
    better_auth: BetterAuthServer, better_auth_client: TestClient
) -> None:
    token = signed_up(better_auth, new_email("gone"))
    with connected(better_auth_client, token) as ws:
        assert ws.receive_json() == {"type": "connection_ack"}
        assert ask(better_auth_client, DELETE_ACCOUNT, token) == {"data": {"deleteAccount": True}}
        assert close_code(ws, within=2.0) == 4401
