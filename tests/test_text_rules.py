"""The contract's control and bidi rules for names, titles and descriptions, on both doors:
control characters and bidirectional controls are refused (descriptions keep tab and newline),
and a title or name of only invisible format characters counts as empty. Nothing is stored."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import PASSWORD, Account, create_task, error_codes, graphql

SINGLE_LINE_REFUSED = {
    "soh": "a\x01b",
    "ansi-escape": "red \x1b[31mtext",
    "crlf": "line\r\nInjected: yes",
    "lf": "two\nlines",
    "del": "a\x7fb",
    "c1-csi": "a\x9bb",
    "rlo": "invoice\u202efdp.exe",
    "lri": "a\u2066b",
}
INVISIBLE_ONLY = {
    "zero-width-spaces": "\u200b\u200b",
    "joiners-and-space": "\u200d \u200c",
    "byte-order-mark": "\ufeff",
    "word-joiner": "\u2060",
}
DESCRIPTION_REFUSED = {"cr": "a\r\nb", "esc": "a\x1bb", "nel": "a\x85b", "pdi": "a\u2069b"}


def _rest_create(client: TestClient, account: Account, **body: object) -> Any:
    """The body of the 400 that creating a task with `body` must answer."""
    response = client.post("/api/tasks", json=body, headers=account.headers)
    assert response.status_code == 400, response.text
    return response.json()


def _stored(client: TestClient, account: Account) -> Any:
    return client.get("/api/tasks", headers=account.headers).json()


@pytest.mark.parametrize("title", SINGLE_LINE_REFUSED.values(), ids=SINGLE_LINE_REFUSED.keys())
def test_a_title_with_a_control_character_is_400_and_stores_nothing(
    client: TestClient, alice: Account, title: str
) -> None:
    body = _rest_create(client, alice, title=title)
    assert [error["field"] for error in body["errors"]] == ["title"]
    assert "control characters" in body["detail"]
    assert _stored(client, alice) == []


@pytest.mark.parametrize("title", INVISIBLE_ONLY.values(), ids=INVISIBLE_ONLY.keys())
def test_a_title_of_only_invisible_characters_is_empty(
    client: TestClient, alice: Account, title: str
) -> None:
    body = _rest_create(client, alice, title=title)
    assert "must not be empty" in body["detail"]
    assert _stored(client, alice) == []


def test_visible_text_around_a_format_character_is_kept(client: TestClient, alice: Account) -> None:
    assert create_task(client, alice, "caf\u00e9\u200dbar")["title"] == "caf\u00e9\u200dbar"


def test_a_title_keeps_no_trailing_line_break(client: TestClient, alice: Account) -> None:
    """Trimming comes first: a pasted title's final newline is white space, not a control."""
    assert create_task(client, alice, "  pasted\n")["title"] == "pasted"


def test_an_update_with_a_control_character_changes_nothing(
    client: TestClient, alice: Account
) -> None:
    task = create_task(client, alice, "before")
    response = client.put(
        f"/api/tasks/{task['id']}", json={"title": "after\x1b[2J"}, headers=alice.headers
    )
    assert response.status_code == 400
    assert client.get(f"/api/tasks/{task['id']}", headers=alice.headers).json()["title"] == "before"


def test_a_description_keeps_tab_and_newline(client: TestClient, alice: Account) -> None:
    task = create_task(client, alice, "t", description="first\n\tsecond")
    assert task["description"] == "first\n\tsecond"


@pytest.mark.parametrize(
    "description", DESCRIPTION_REFUSED.values(), ids=DESCRIPTION_REFUSED.keys()
)
def test_a_description_refuses_other_controls(
    client: TestClient, alice: Account, description: str
) -> None:
    body = _rest_create(client, alice, title="t", description=description)
    assert body["errors"][0]["field"] == "description"
    assert _stored(client, alice) == []


@pytest.mark.parametrize(
    "name",
    [*SINGLE_LINE_REFUSED.values(), *INVISIBLE_ONLY.values()],
    ids=[*SINGLE_LINE_REFUSED, *INVISIBLE_ONLY],
)
def test_a_name_follows_the_same_rules(client: TestClient, name: str) -> None:
    body = {"email": "a@example.com", "name": name, "password": PASSWORD}
    response = client.post("/api/auth/signup", json=body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "name"
    assert client.post("/api/auth/login", json=body).status_code == 401


CREATE = (
    "mutation ($t: String!, $d: String) { createTask(input: {title: $t, description: $d}) { id } }"
)


@pytest.mark.parametrize(
    ("title", "description", "field"),
    [("a\x1b[31m", "", "title"), ("\u200b", "", "title"), ("ok", "a\r\nb", "description")],
    ids=["escape-in-title", "invisible-title", "cr-in-description"],
)
def test_graphql_applies_the_same_text_rules(
    client: TestClient, alice: Account, title: str, description: str, field: str
) -> None:
    body = graphql(client, CREATE, {"t": title, "d": description}, alice)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field
    assert _stored(client, alice) == []
