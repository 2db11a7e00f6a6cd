"""The contract's control and bidi rules for names, titles, tag names and descriptions, on both
doors: control characters and bidirectional controls are refused (descriptions keep tab and
newline), names, titles and tag names also refuse the directional marks and the line and paragraph
separators, and a title, name or tag name of only invisible or blank-looking characters counts as
empty. Nothing is stored. Legitimate text around those characters is kept."""

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
# Characters that render as nothing or as a blank, alone or only with white space.
BLANK_LOOKING = {
    "hangul-filler": "\u3164",
    "braille-blank": "\u2800\u2800",
    "halfwidth-hangul-filler": "\uffa0",
    "choseong-and-jungseong-fillers": "\u115f\u1160",
    "grapheme-joiner": "\u034f",
    "variation-selector-16": "\ufe0f",
    "variation-selector-17": "\U000e0100",
    "lone-acute-accent": "\u0301",
    "marks-around-a-space": "\u0301 \u20e3",
    "spacing-mark": "\u0903",
}
# Inside a one-line text (at its ends the separators are trimmed as white space).
MARKS_AND_SEPARATORS = {
    "left-to-right-mark": "a\u200eb",
    "right-to-left-mark": "a\u200fb",
    "arabic-letter-mark": "a\u061cb",
    "line-separator": "a\u2028b",
    "paragraph-separator": "a\u2029b",
}
# So the rules are not overbroad: marks and selectors next to what they belong to.
LEGITIMATE = {
    "emoji-with-variation-selector": "\u2764\ufe0f mum",
    "decomposed-e-acute": "caf" + "e\u0301",
    "hangul": "\ud55c\uad6d\uc5b4 \uba54\ubaa8",
    "conjoining-jamo": "\u1100\u1161",
    "arabic": "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "devanagari": "\u0928\u092e\u0938\u094d\u0924\u0947",
}


def _rest_create(client: TestClient, account: Account, **body: object) -> Any:
    """The body of the 400 that creating a task with `body` must answer."""
    response = client.post("/api/tasks", json=body, headers=account.headers)
    assert response.status_code == 400, response.text
    return response.json()


def _stored(client: TestClient, account: Account) -> Any:
    return client.get("/api/tasks", headers=account.headers).json()


def _rest_signup(client: TestClient, name: str) -> Any:
    """The response to signing up as `name`."""
    body = {"email": "a@example.com", "name": name, "password": PASSWORD}
    return client.post("/api/auth/signup", json=body)


def _names_each(message: str, text: str) -> bool:
    """Whether `message` names (`U+XXXX`) each character of `text` other than `a`, `b` and white
    space: the characters to remove."""
    return all(f"U+{ord(char):04X}" in message for char in text if char not in " ab")


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


@pytest.mark.parametrize("title", BLANK_LOOKING.values(), ids=BLANK_LOOKING.keys())
def test_a_title_of_only_blank_looking_characters_is_empty(
    client: TestClient, alice: Account, title: str
) -> None:
    body = _rest_create(client, alice, title=title)
    assert [error["field"] for error in body["errors"]] == ["title"]
    assert "must not be empty" in body["detail"]
    assert _names_each(body["detail"], title)
    assert _stored(client, alice) == []


@pytest.mark.parametrize("name", BLANK_LOOKING.values(), ids=BLANK_LOOKING.keys())
def test_a_name_of_only_blank_looking_characters_is_empty(client: TestClient, name: str) -> None:
    response = _rest_signup(client, name)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["name"]
    assert "must not be empty" in response.json()["detail"]
    assert _names_each(response.json()["detail"], name)
    login = {"email": "a@example.com", "password": PASSWORD}
    assert client.post("/api/auth/login", json=login).status_code == 401


@pytest.mark.parametrize("tag", BLANK_LOOKING.values(), ids=BLANK_LOOKING.keys())
def test_a_tag_of_only_blank_looking_characters_is_empty(
    client: TestClient, alice: Account, tag: str
) -> None:
    body = _rest_create(client, alice, title="t", tags=["ok", tag])
    assert [error["field"] for error in body["errors"]] == ["tags"]
    assert "must not be empty" in body["detail"]
    assert _stored(client, alice) == []


@pytest.mark.parametrize("title", MARKS_AND_SEPARATORS.values(), ids=MARKS_AND_SEPARATORS.keys())
def test_a_title_with_a_directional_mark_or_separator_is_400_naming_it(
    client: TestClient, alice: Account, title: str
) -> None:
    body = _rest_create(client, alice, title=title)
    assert [error["field"] for error in body["errors"]] == ["title"]
    assert _names_each(body["detail"], title)
    assert _stored(client, alice) == []


@pytest.mark.parametrize("name", MARKS_AND_SEPARATORS.values(), ids=MARKS_AND_SEPARATORS.keys())
def test_a_name_with_a_directional_mark_or_separator_is_400_naming_it(
    client: TestClient, name: str
) -> None:
    response = _rest_signup(client, name)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["name"]
    assert _names_each(response.json()["detail"], name)


@pytest.mark.parametrize("tag", MARKS_AND_SEPARATORS.values(), ids=MARKS_AND_SEPARATORS.keys())
def test_a_tag_with_a_directional_mark_or_separator_is_400_naming_it(
    client: TestClient, alice: Account, tag: str
) -> None:
    body = _rest_create(client, alice, title="t", tags=[tag])
    assert [error["field"] for error in body["errors"]] == ["tags"]
    assert _names_each(body["detail"], tag)
    assert _stored(client, alice) == []


def test_an_update_to_a_blank_looking_title_changes_nothing(
    client: TestClient, alice: Account
) -> None:
    task = create_task(client, alice, "before")
    response = client.patch(
        f"/api/tasks/{task['id']}", json={"title": "\u3164"}, headers=alice.headers
    )
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["title"]
    assert client.get(f"/api/tasks/{task['id']}", headers=alice.headers).json()["title"] == "before"


@pytest.mark.parametrize("text", LEGITIMATE.values(), ids=LEGITIMATE.keys())
def test_a_title_with_marks_on_visible_characters_is_kept(
    client: TestClient, alice: Account, text: str
) -> None:
    assert create_task(client, alice, text)["title"] == text


@pytest.mark.parametrize("text", LEGITIMATE.values(), ids=LEGITIMATE.keys())
def test_a_name_with_marks_on_visible_characters_is_kept(client: TestClient, text: str) -> None:
    response = _rest_signup(client, text)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == text


@pytest.mark.parametrize("text", LEGITIMATE.values(), ids=LEGITIMATE.keys())
def test_a_tag_with_marks_on_visible_characters_is_kept(
    client: TestClient, alice: Account, text: str
) -> None:
    assert create_task(client, alice, "t", tags=[text])["tags"] == [text]


def test_a_description_keeps_directional_marks_and_separators(
    client: TestClient, alice: Account
) -> None:
    """The contract refuses them in names, titles and tag names only."""
    description = "\u0645\u0631\u062d\u0628\u0627\u200f 42\nnext\u2028line\u2029para \u200e\u061c"
    assert create_task(client, alice, "t", description=description)["description"] == description


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


SIGNUP = "mutation ($i: SignupInput!) { signup(input: $i) { user { name } } }"
CREATE_WITH_TAGS = (
    "mutation ($t: String!, $g: [String!]) { createTask(input: {title: $t, tags: $g}) { id } }"
)


@pytest.mark.parametrize(
    "title",
    [*BLANK_LOOKING.values(), *MARKS_AND_SEPARATORS.values()],
    ids=[*BLANK_LOOKING, *MARKS_AND_SEPARATORS],
)
def test_graphql_refuses_a_blank_looking_or_marked_title(
    client: TestClient, alice: Account, title: str
) -> None:
    body = graphql(client, CREATE_WITH_TAGS, {"t": title, "g": []}, alice)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "title"
    assert _stored(client, alice) == []


@pytest.mark.parametrize(
    "tag",
    [*BLANK_LOOKING.values(), *MARKS_AND_SEPARATORS.values()],
    ids=[*BLANK_LOOKING, *MARKS_AND_SEPARATORS],
)
def test_graphql_refuses_a_blank_looking_or_marked_tag(
    client: TestClient, alice: Account, tag: str
) -> None:
    body = graphql(client, CREATE_WITH_TAGS, {"t": "t", "g": [tag]}, alice)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "tags"
    assert _stored(client, alice) == []


@pytest.mark.parametrize(
    "name",
    [*BLANK_LOOKING.values(), *MARKS_AND_SEPARATORS.values()],
    ids=[*BLANK_LOOKING, *MARKS_AND_SEPARATORS],
)
def test_graphql_refuses_a_blank_looking_or_marked_name(client: TestClient, name: str) -> None:
    account = {"email": "a@example.com", "name": name, "password": PASSWORD}
    body = graphql(client, SIGNUP, {"i": account})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "name"
