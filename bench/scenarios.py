"""The scenarios: what each one sends, and a check of one answer before any load is driven."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from bench.seed import Account
from bench.wrk import Request

GQL_LIST = "query { tasks(first: 50) { nodes { id title completed createdAt owner { name } } } }"
GQL_BATCH = [
    {"query": "query { me { id name email } }"},
    {"query": "query { taskStats { total completed pending } }"},
    {"query": "query { tasks(first: 20) { nodes { id title completed createdAt } } }"},
]
GQL_PAGE = (
    "query Page($after: String) { tasks(first: 50, after: $after) {"
    " nodes { id title completed createdAt } pageInfo { hasNextPage endCursor } } }"
)

Check = Callable[[httpx.Response], str | None]


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # "service" or "baseline"
    request: Request
    check: Check
    graphql: bool = False  # needs /graphql
    storm: Request | None = None  # a login storm driven at the same time, by a second wrk
    drain: bool = False  # leaves bcrypt work queued on the server: let it finish before the next


def _json_request(method: str, path: str, body: Any, headers: dict[str, str]) -> Request:
    return Request(
        method=method,
        path=path,
        headers={"Content-Type": "application/json", **headers},
        body=json.dumps(body, separators=(",", ":")),
        graphql=path == "/graphql",
    )


def _list_check(expected: int) -> Check:
    def check(response: httpx.Response) -> str | None:
        if response.status_code != 200:
            return f"status {response.status_code}: {response.text[:200]}"
        body = response.json()
        if not isinstance(body, list) or len(body) != expected:
            return f"expected a list of {expected} tasks"
        if response.headers.get("x-total-count") != str(expected):
            return f"X-Total-Count is {response.headers.get('x-total-count')!r}"
        return None

    return check


def _status_check(expected: int) -> Check:
    def check(response: httpx.Response) -> str | None:
        if response.status_code != expected:
            return f"status {response.status_code}: {response.text[:200]}"
        return None

    return check


def _graphql_errors(body: Any) -> str | None:
    for result in body if isinstance(body, list) else [body]:
        if not isinstance(result, dict) or result.get("errors") or not result.get("data"):
            return f"GraphQL answered {json.dumps(result)[:300]}"
    return None


def _gql_nodes_check(expected: int, first_id: int | None = None) -> Check:
    def check(response: httpx.Response) -> str | None:
        if response.status_code != 200:
            return f"status {response.status_code}: {response.text[:200]}"
        body = response.json()
        problem = _graphql_errors(body)
        if problem:
            return problem
        nodes = body["data"]["tasks"]["nodes"]
        if len(nodes) != expected:
            return f"expected {expected} nodes, got {len(nodes)}"
        if first_id is not None and nodes[0]["id"] != first_id:
            return f"page starts at task id {nodes[0]['id']}, expected {first_id}"
        return None

    return check


def _batch_check(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return f"status {response.status_code}: {response.text[:200]}"
    body = response.json()
    if not isinstance(body, list) or len(body) != len(GQL_BATCH):
        return f"expected a list of {len(GQL_BATCH)} results: {response.text[:200]}"
    return _graphql_errors(body)


def login_request(account: Account) -> Request:
    return _json_request(
        "POST", "/api/auth/login", {"email": account.email, "password": account.password}, {}
    )


@dataclass(frozen=True)
class Setup:
    lister: Account  # 50 tasks, 10 of them completed
    creator: Account  # creates tasks under load
    login: Account  # logs in under load
    deep: Account  # 10,000 tasks
    mid_cursor: str
    mid_first_id: int  # id of the task the middle page must start with
    deep_cursor: str
    deep_first_id: int  # id of the task the deep page must start with


def _page(name: str, owner: Account, after: str | None, first_id: int | None) -> Scenario:
    """The same query document for every page of the 10,000-task user; only `after` differs."""
    return Scenario(
        name,
        "service",
        _json_request(
            "POST", "/graphql", {"query": GQL_PAGE, "variables": {"after": after}}, owner.bearer
        ),
        _gql_nodes_check(50, first_id),
        graphql=True,
    )


def scenarios(setup: Setup) -> list[Scenario]:
    lister = setup.lister.bearer
    rest_list = Request("GET", "/api/tasks", lister)
    login = login_request(setup.login)
    return [
        Scenario("baseline_list", "baseline", rest_list, _list_check(50)),
        Scenario("rest_list", "service", rest_list, _list_check(50)),
        Scenario(
            "gql_list",
            "service",
            _json_request("POST", "/graphql", {"query": GQL_LIST}, lister),
            _gql_nodes_check(50),
            graphql=True,
        ),
        Scenario(
            "gql_batch",
            "service",
            _json_request("POST", "/graphql", GQL_BATCH, lister),
            _batch_check,
            graphql=True,
        ),
        _page("first_page", setup.deep, None, None),
        _page("mid_page", setup.deep, setup.mid_cursor, setup.mid_first_id),
        _page("deep_page", setup.deep, setup.deep_cursor, setup.deep_first_id),
        Scenario(
            "rest_create",
            "service",
            _json_request(
                "POST", "/api/tasks", {"title": "Created under load"}, setup.creator.bearer
            ),
            _status_check(201),
        ),
        Scenario("login", "service", login, _status_check(200), drain=True),
        Scenario(
            "list_under_login", "service", rest_list, _list_check(50), storm=login, drain=True
        ),
    ]


def send(client: httpx.Client, request: Request) -> httpx.Response:
    """One request as wrk will send it."""
    return client.request(
        request.method,
        request.path,
        headers=dict(request.headers),
        content=request.body.encode() if request.body is not None else None,
    )
