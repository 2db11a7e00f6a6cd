"""Hostile requests over real sockets: each gets a clear 4xx, and /api/health stays 200 throughout.

These run against a real uvicorn server on each database, so uvicorn's HTTP parsing takes part.
They cover what tests/test_tasks_api.py, test_listing.py and test_graphql_transport.py do not
already cover in process: the auth routes and updates, every task route, the GraphQL variables,
and the server staying healthy meanwhile.
"""

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.checks import GRAPHQL_CODES, leaks, missing_security_headers
from tests.reliability.live import register, unique_email, watching_health
from tests.reliability.servers import HOST, Server, server_env, uvicorn_server
from tests.support import PASSWORD, Account

TWO_MIB = 2 * 1024 * 1024
HUGE_IDS = ["0", "-1", "2147483648", "9223372036854775808", "1" + "0" * 30, "1e3", "%00"]


@dataclass
class Hostile:
    """One hostile request and what a careful server answers."""

    name: str
    method: str
    path: str
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None
    status: int = 400
    field: str | None = None  # the field a 400 must name


@dataclass
class Session:
    server: Server
    account: Account
    task_id: int

    def send(self, case: Hostile) -> httpx.Response:
        headers = {**self.account.headers, "Content-Type": "application/json", **case.headers}
        path = case.path.replace("{id}", str(self.task_id))
        with httpx.Client(base_url=self.server.url, timeout=30.0) as client:
            return client.request(
                case.method, path, content=case.content, headers=headers, params=case.params
            )


@pytest.fixture
def session(live_server: Server) -> Session:
    account = register(live_server.url)
    created = httpx.post(
        f"{live_server.url}/api/tasks", json={"title": "target"}, headers=account.headers
    )
    return Session(live_server, account, created.json()["id"])


def _problems(case: Hostile, response: httpx.Response) -> list[str]:
    """What is wrong with `response` as the answer to `case`; empty when it is right."""
    problems = []
    if response.status_code != case.status:
        problems.append(f"status {response.status_code}, expected {case.status}")
    try:
        body: Any = response.json()
    except ValueError:
        return [*problems, f"not JSON: {response.text[:200]!r}"]
    if case.path.startswith("/api"):
        if not isinstance(body.get("detail"), str) or not body["detail"]:
            problems.append(f"no clear detail: {body}")
        if case.field is not None and case.field not in {e["field"] for e in body["errors"]}:
            problems.append(f"does not name {case.field}: {body}")
    problems += [f"leaks {found}" for found in leaks(response.status_code, response.text)]
    path = case.path.split("?")[0]
    problems += [f"lacks {h}" for h in missing_security_headers(path, dict(response.headers))]
    return problems


def _run(session: Session, cases: list[Hostile]) -> None:
    with watching_health(session.server.url) as health:
        failures = {}
        for case in cases:
            problems = _problems(case, session.send(case))
            if problems:
                failures[case.name] = problems
    assert not failures, failures
    health.assert_healthy()


def _chunks() -> Iterator[bytes]:
    for _ in range(TWO_MIB // 65536):
        yield b"x" * 65536


BODY_ROUTES = [
    ("POST", "/api/auth/signup"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/logout"),
    ("POST", "/api/tasks"),
    ("PUT", "/api/tasks/{id}"),
    ("PATCH", "/api/tasks/{id}"),
    ("POST", "/graphql"),
]


def test_two_mebibyte_bodies_are_413_on_every_route(session: Session) -> None:
    big = b'{"title": "' + b"x" * TWO_MIB + b'"}'
    cases = [
        Hostile(f"{method} {path}", method, path, big, status=413) for method, path in BODY_ROUTES
    ]
    _run(session, cases)
    # Without a Content-Length the limit is counted as the body arrives.
    for method, path in BODY_ROUTES:
        with httpx.Client(base_url=session.server.url, timeout=30.0) as client:
            response = client.request(
                method,
                path.replace("{id}", str(session.task_id)),
                content=_chunks(),
                headers={**session.account.headers, "Content-Type": "application/json"},
            )
        assert response.status_code == 413, (method, path, response.text)


def test_deep_json_and_invalid_utf8_bodies_are_400_on_field_body(session: Session) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    not_utf8 = b'{"email": "\xff\xfe@example.com", "password": "\xc3\x28", "title": "\xed\xa0\x80"}'
    cases = []
    for method, path in BODY_ROUTES:
        if path == "/graphql":
            continue  # covered in tests/test_graphql_transport.py
        cases.append(Hostile(f"deep {method} {path}", method, path, deep, field="body"))
        cases.append(Hostile(f"utf8 {method} {path}", method, path, not_utf8, field="body"))
    _run(session, cases)


def test_nul_characters_are_400_naming_the_field(session: Session) -> None:
    nul = "a\x00b"  # json.dumps sends it as \u0000
    token = session.account.refresh_token
    signup = {"email": unique_email("nul"), "name": "N", "password": PASSWORD}
    fields = [
        ("POST", "/api/auth/signup", {**signup, "email": f"{nul}@example.com"}, "email"),
        ("POST", "/api/auth/signup", {**signup, "name": nul}, "name"),
        ("POST", "/api/auth/signup", {**signup, "password": f"Aa1{nul}xyzw"}, "password"),
        ("POST", "/api/auth/login", {"email": nul, "password": "x"}, "email"),
        ("POST", "/api/auth/login", {"email": "a@example.com", "password": nul}, "password"),
        ("POST", "/api/auth/refresh", {"refresh_token": token[:20] + nul}, "refresh_token"),
        ("POST", "/api/auth/logout", {"refresh_token": nul}, "refresh_token"),
        ("PUT", "/api/tasks/{id}", {"title": nul}, "title"),
        ("PATCH", "/api/tasks/{id}", {"description": nul}, "description"),
    ]
    cases = [
        Hostile(f"{path} {name}", method, path, json.dumps(body).encode(), field=name)
        for method, path, body, name in fields
    ]
    _run(session, cases)
    # Nothing of it was stored.
    listing = httpx.get(f"{session.server.url}/api/tasks", headers=session.account.headers)
    assert [task["title"] for task in listing.json()] == ["target"]


def test_huge_and_malformed_ids_are_400_on_every_task_route(session: Session) -> None:
    routes = [
        ("GET", "/api/tasks/{}", None),
        ("PUT", "/api/tasks/{}", b'{"title": "t"}'),
        ("PATCH", "/api/tasks/{}", b'{"title": "t"}'),
        ("DELETE", "/api/tasks/{}", None),
        ("PATCH", "/api/tasks/{}/toggle", None),
    ]
    cases = [
        Hostile(f"{method} {task_id}", method, path.format(task_id), body, field="task_id")
        for method, path, body in routes
        for task_id in HUGE_IDS
    ]
    big = "1" + "0" * 30
    cases += [
        Hostile("huge completed", "PUT", "/api/tasks/{id}", f'{{"completed": {big}}}'.encode()),
        Hostile("huge title", "POST", "/api/tasks", f'{{"title": {big}}}'.encode()),
        Hostile("infinite float", "POST", "/api/tasks", b'{"title": "t", "x": 1e999}'),
    ]
    _run(session, cases)


def test_out_of_range_paging_is_400_and_unknown_parameters_are_ignored(session: Session) -> None:
    cases = [
        Hostile("limit huge", "GET", "/api/tasks", params={"limit": "1" + "0" * 30}, field="limit"),
        Hostile("limit empty", "GET", "/api/tasks", params={"limit": ""}, field="limit"),
        Hostile("limit float", "GET", "/api/tasks", params={"limit": "1.5"}, field="limit"),
        Hostile("offset 2^31", "GET", "/api/tasks", params={"offset": str(2**31)}, field="offset"),
        Hostile("offset huge", "GET", "/api/tasks", params={"offset": "9" * 40}, field="offset"),
    ]
    _run(session, cases)
    # Unknown parameters are ignored (the usual REST answer), never an error.
    response = httpx.get(
        f"{session.server.url}/api/tasks",
        params={"limit": "1", "foo": "bar", "__proto__": "x", "user_id": "someone-else"},
        headers=session.account.headers,
    )
    assert response.status_code == 200
    assert len(response.json()) == 1


def test_fields_the_client_may_not_set_are_ignored(session: Session, live_server: Server) -> None:
    """Mass assignment: id, owner, timestamps and completion at creation are the server's."""
    other = register(live_server.url)
    body = {
        "title": "mine",
        "id": 999_999,
        "user_id": "00000000-0000-0000-0000-000000000000",
        "owner": other.email,
        "completed": True,
        "created_at": "2000-01-01T00:00:00Z",
        "updated_at": "2000-01-01T00:00:00Z",
    }
    created = httpx.post(
        f"{session.server.url}/api/tasks", json=body, headers=session.account.headers
    )
    assert created.status_code == 201
    task = created.json()
    assert task["id"] != 999_999
    assert task["completed"] is False
    assert not task["created_at"].startswith("2000")
    mine = httpx.get(f"{session.server.url}/api/tasks", headers=session.account.headers).json()
    assert task["id"] in {t["id"] for t in mine}
    theirs = httpx.get(f"{session.server.url}/api/tasks", headers=other.headers).json()
    assert theirs == []
    update = httpx.put(
        f"{session.server.url}/api/tasks/{task['id']}",
        json={"id": 1, "user_id": "00000000-0000-0000-0000-000000000000", "title": "still mine"},
        headers=session.account.headers,
    )
    assert update.status_code == 200
    assert update.json()["id"] == task["id"]


def test_hostile_headers_get_4xx(session: Session) -> None:
    url = f"{session.server.url}/api/tasks"
    with watching_health(session.server.url) as health:
        not_utf8 = httpx.get(url, headers={b"Authorization": b"Bearer \xff\xfe\xfd"})
        huge = httpx.get(url, headers={"Authorization": "Bearer " + "a" * 60_000})
        not_bearer = httpx.get(url, headers={"Authorization": "Basic YTpi"})
        empty = httpx.get(url, headers={"Authorization": "Bearer"})
        # A NUL in a header never reaches the app: uvicorn refuses the request itself.
        with socket.create_connection((HOST, session.server.port), timeout=10) as raw:
            raw.sendall(b"GET /api/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \x00\r\n\r\n")
            status_line = raw.recv(64).split(b"\r\n")[0]
    for response in (not_utf8, huge, not_bearer, empty):
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["detail"]
    assert status_line == b"HTTP/1.1 400 Bad Request"
    health.assert_healthy()


def _exchange(raw: socket.socket, request: bytes) -> bytes:
    """Send one request on `raw` and read its whole answer (the body is sized by Content-Length)."""
    raw.sendall(request)
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += raw.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += raw.recv(65536)
    return head


@pytest.mark.parametrize("body", [b"null", b"1", b"true", b'"x"', b"1.5"])
def test_a_scalar_graphql_body_is_400_and_the_connection_stays_usable(
    live_server: Server, body: bytes
) -> None:
    post = (
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    with socket.create_connection((HOST, live_server.port), timeout=10) as raw:
        refused = _exchange(raw, post)
        health = _exchange(raw, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert refused.startswith(b"HTTP/1.1 400 ")
    assert health.startswith(b"HTTP/1.1 200 ")
    assert "Traceback" not in live_server.log_text()


def test_a_websocket_upgrade_with_the_legacy_protocol_is_refused_with_403(
    live_server: Server,
) -> None:
    upgrade = (
        b"GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: graphql-ws\r\n\r\n"
    )
    with socket.create_connection((HOST, live_server.port), timeout=10) as raw:
        raw.sendall(upgrade)
        status_line = raw.recv(4096).split(b"\r\n")[0]
    assert status_line == b"HTTP/1.1 403 Forbidden"
    assert "Traceback" not in live_server.log_text()


def test_a_body_announced_but_not_sent_is_408_and_the_connection_closes(
    session: Session,
) -> None:
    """Content-Length says a megabyte, 13 bytes come: the server gives up after its body
    timeout (2 s for test servers) instead of holding the connection open for ever."""
    started = time.monotonic()
    with (
        watching_health(session.server.url) as health,
        socket.create_connection((HOST, session.server.port), timeout=10) as raw,
    ):
        raw.sendall(
            b"POST /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + session.account.access_token.encode() + b"\r\n"
            b"Content-Length: 1000000\r\n\r\n" + b'{"title": "ha'
        )
        answer = b""
        while chunk := raw.recv(65536):  # until the server closes the connection
            answer += chunk
    elapsed = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert json.loads(body)["detail"] == "The request body did not arrive within 2 seconds"
    assert 1.5 < elapsed < 8
    health.assert_healthy()


def test_invalid_utf8_in_the_query_string_is_400(session: Session) -> None:
    response = httpx.get(
        f"{session.server.url}/api/tasks?q=%FF%FE", headers=session.account.headers
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "q"


def _graphql(session: Session, payload: object) -> httpx.Response:
    return httpx.post(
        f"{session.server.url}/graphql",
        json=payload,
        headers=session.account.headers,
        timeout=30.0,
    )


def _codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json().get("errors") or []]


def test_hostile_graphql_documents_are_bad_user_input(session: Session) -> None:
    documents = {
        "deep braces": "{" * 5_000 + "}" * 5_000,
        "deep selection": "{ me " + "{ id " * 3_000 + "}" * 3_001,
        "many aliases": "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(200)) + " }",
        "repeated field": "{ me { " + "id " * 5_000 + "} }",
        "fragment cycle": "{ me { ...F } } fragment F on User { ...G } fragment G on User { ...F }",
        "huge literal id": "{ task(id: 99999999999999999999) { id } }",
        "nul in literal": '{ tasks(filter: {search: "a\\u0000b"}) { totalCount } }',
        "long cursor": '{ tasks(after: "' + "A" * 100_000 + '") { totalCount } }',
        "nul cursor": '{ tasks(after: "abc\\u0000") { totalCount } }',
        "unicode cursor": '{ tasks(after: "\u00e9\u4e2d\U0001f600") { totalCount } }',
        "json cursor": '{ tasks(after: "W2ZhbHNlLCIyMDI1LTAxLTAxIiwxXQ") { totalCount } }',
    }
    with watching_health(session.server.url) as health:
        answers = {name: _graphql(session, {"query": query}) for name, query in documents.items()}
    wrong = {
        name: response.text[:300]
        for name, response in answers.items()
        if response.status_code >= 500
        or not _codes(response)
        or set(_codes(response)) != {"BAD_USER_INPUT"}
        or leaks(response.status_code, response.text)
    }
    assert not wrong, wrong
    health.assert_healthy()


def test_a_batch_of_logins_checks_one_password_and_counts_one_failure(session: Session) -> None:
    email = unique_email("batch")
    login = "mutation ($input: LoginInput!) { login(input: $input) { tokens { accessToken } } }"
    operation = {"query": login, "variables": {"input": {"email": email, "password": "Nope-1234"}}}
    with watching_health(session.server.url) as health:
        answers = [_graphql(session, [operation] * 10) for _ in range(5)]
        rest = httpx.post(
            f"{session.server.url}/api/auth/login", json={"email": email, "password": "Nope-1234"}
        )
    for response in answers:  # one password checked per request; the other nine hash nothing
        assert response.status_code == 200
        codes = [error["extensions"]["code"] for one in response.json() for error in one["errors"]]
        assert sorted(codes) == ["RATE_LIMITED"] * 9 + ["UNAUTHENTICATED"]
    assert rest.status_code == 429  # five requests, five failures: the email's limit
    health.assert_healthy()


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query ($i: Int!) { task(id: $i) { id } }", {"i": 2**40}),
        ("query ($i: Int!) { task(id: $i) { id } }", {"i": "1"}),
        ("query ($i: Int!) { task(id: $i) { id } }", {}),
        ("query ($n: Int) { tasks(first: $n) { totalCount } }", {"n": 10**30}),
        ("query ($a: String) { tasks(after: $a) { totalCount } }", {"a": 5}),
        (
            "mutation ($in: CreateTaskInput!) { createTask(input: $in) { id } }",
            {"in": {"title": 123}},
        ),
        (
            "mutation ($in: UpdateTaskInput!) { updateTask(id: 1, input: $in) { id } }",
            {"in": {"completed": "yes"}},
        ),
    ],
    ids=[
        "huge-int",
        "string-for-int",
        "missing",
        "huge-first",
        "int-for-string",
        "int-title",
        "yes",
    ],
)
def test_variables_of_the_wrong_type_are_bad_user_input(
    session: Session, query: str, variables: dict[str, object]
) -> None:
    response = _graphql(session, {"query": query, "variables": variables})
    assert response.status_code == 200
    assert _codes(response) == ["BAD_USER_INPUT"]
    assert set(_codes(response)) <= GRAPHQL_CODES


# The options `make serve` and docs/operations.md (Deployment) give uvicorn for the head of a
# request: uvicorn's default parser (httptools) takes a 64 MiB header and stalls meanwhile.
BOUNDED_HEAD = ("--http", "h11", "--h11-max-incomplete-event-size", "16384")


def test_a_huge_header_is_refused_at_once_by_a_server_run_as_documented(
    live_server: Server, server_logs: Path
) -> None:
    env = server_env(live_server.database_url)
    with uvicorn_server(env, server_logs, options=BOUNDED_HEAD) as bounded:
        started = time.monotonic()
        with (
            watching_health(bounded.url) as health,
            socket.create_connection((HOST, bounded.port), timeout=10) as raw,
        ):
            raw.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Huge: ")
            sent, refused = 0, False
            try:
                while sent < 64 * 1024 * 1024:
                    raw.sendall(b"a" * 65536)
                    sent += 65536
            except ConnectionError:
                refused = True
        elapsed = time.monotonic() - started
        health.assert_healthy(max_seconds=1.0)
    # The server drops the connection past 16 KiB; the kernel's buffers took a few MiB more.
    assert refused, "the server took a 64 MiB header"
    assert sent < 16 * 1024 * 1024
    assert elapsed < 2
