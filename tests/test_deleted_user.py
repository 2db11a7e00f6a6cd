"""The token of a user who no longer exists is refused (401) on every route of both doors, and
changes nothing: each service checks the user in its own statement where it can (the count, the
INSERT), else when it found nothing, so "no such user" is never answered as "no such task"."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, delete, func, select

from app.errors import AuthError
from app.security import TokenClaims
from app.services import accounts, listing, listing_filters, sessions, tasks
from app.services.listing_filters import Where
from app.services.tags import tag_counts
from app.settings import Settings
from app.statements import Runner
from models import Task, User
from models.task import TaskCreate, TaskFilter, TaskUpdate
from models.utc import utcnow
from tests.support import PASSWORD, Account, create_task, database, error_codes, graphql, user_id_of


@pytest.fixture
def gone(client: TestClient, alice: Account, settings: Settings) -> Account:
    """Alice, with a task, deleted after her tokens were issued."""
    create_task(client, alice, "hers")
    with database(settings) as session:
        session.exec(delete(User).where(col(User.id) == user_id_of(session, alice)))
        session.commit()
    return alice


@pytest.fixture
def bobs_task(client: TestClient, bob: Account) -> int:
    task_id: int = create_task(client, bob, "his")["id"]
    return task_id


REST_ROUTES = [
    ("GET", "/api/tasks", None),
    ("GET", "/api/tasks?completed=false&q=his", None),
    ("POST", "/api/tasks", {"title": "after the end"}),
    ("GET", "/api/tasks/stats", None),
    ("GET", "/api/tasks/{id}", None),
    ("PUT", "/api/tasks/{id}", {"title": "renamed"}),
    ("PATCH", "/api/tasks/{id}", {"completed": True}),
    ("PATCH", "/api/tasks/{id}/toggle", None),
    ("DELETE", "/api/tasks/{id}", None),
    ("GET", "/api/auth/me", None),
    ("GET", "/api/auth/sessions", None),
    ("DELETE", f"/api/auth/sessions/{uuid.uuid4()}", None),
    ("POST", "/api/auth/password", {"current_password": PASSWORD, "new_password": "New-Horse-10"}),
    ("DELETE", "/api/auth/me", {"password": PASSWORD}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), REST_ROUTES, ids=[f"{m} {p}" for m, p, _ in REST_ROUTES]
)
def test_rest_refuses_the_token_of_a_deleted_user(
    client: TestClient, gone: Account, bobs_task: int, method: str, path: str, body: Any
) -> None:
    url = path.format(id=bobs_task)  # another user's task: still 401, not 404
    response = client.request(method, url, json=body, headers=gone.headers)
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "Session has ended"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_logout_refuses_the_token_of_a_deleted_user(client: TestClient, gone: Account) -> None:
    body = {"refresh_token": gone.refresh_token}
    response = client.post("/api/auth/logout", json=body, headers=gone.headers)
    assert response.status_code == 401


def test_a_deleted_user_changes_nothing(
    client: TestClient, gone: Account, bob: Account, bobs_task: int, settings: Settings
) -> None:
    for method, path, body in REST_ROUTES:
        client.request(method, path.format(id=bobs_task), json=body, headers=gone.headers)
    with database(settings) as session:
        assert session.exec(select(func.count()).select_from(Task)).one() == 1
        his = session.exec(select(Task)).one()
    assert (his.title, his.completed) == ("his", False)


GRAPHQL_OPERATIONS = [
    "{ me { id } }",
    "{ tasks { totalCount nodes { id } } }",
    "query($id: Int!) { task(id: $id) { id } }",
    "{ taskStats { total } }",
    'mutation { createTask(input: {title: "after the end"}) { id } }',
    'mutation($id: Int!) { updateTask(id: $id, input: {title: "renamed"}) { id } }',
    "mutation($id: Int!) { toggleTask(id: $id) { id } }",
    "mutation($id: Int!) { deleteTask(id: $id) }",
    "{ sessions { id } }",
    f'mutation {{ revokeSession(id: "{uuid.uuid4()}") }}',
    "mutation { changePassword(input: "
    f'{{currentPassword: "{PASSWORD}", newPassword: "New-Horse-10"}}) }}',
    f'mutation {{ deleteAccount(password: "{PASSWORD}") }}',
]


@pytest.mark.parametrize("operation", GRAPHQL_OPERATIONS)
def test_graphql_refuses_the_token_of_a_deleted_user(
    client: TestClient, gone: Account, bobs_task: int, operation: str
) -> None:
    variables = {"id": bobs_task} if "$id" in operation else {}
    body = graphql(client, operation, variables, account=gone)
    assert error_codes(body) == ["UNAUTHENTICATED"]


SERVICES: list[Callable[[Runner, TokenClaims, int], Any]] = [
    lambda r, u, _: listing.list_tasks(r, u, task_filter=TaskFilter(), limit=10, offset=0),
    lambda r, u, _: listing.page_tasks(
        r, u, task_filter=TaskFilter(search="x"), first=10, after=None, cursor_key="k"
    ),
    lambda r, u, _: listing_filters.count(r, Where.of(u, TaskFilter(completed=True))),
    lambda r, u, t: tasks.find_task(r, u, task_id=t),
    lambda r, u, t: tasks.get_task(r, u, task_id=t),
    lambda r, u, _: tasks.create_task(r, u, data=TaskCreate(title="x")),
    lambda r, u, t: tasks.update_task(r, u, task_id=t, changes=TaskUpdate(title="y")),
    lambda r, u, t: tasks.toggle_task(r, u, task_id=t),
    lambda r, u, t: tasks.delete_task(r, u, task_id=t),
    lambda r, u, _: listing_filters.task_stats(r, u),
    lambda r, u, _: sessions.require_session(r, u),
    lambda r, u, _: sessions.live_sessions(r, u),
    lambda r, u, _: sessions.end_session(r, u, session_id=uuid.uuid4()),
    lambda r, u, _: accounts.user_of(r, u),
    lambda r, u, _: listing.list_trash(r, u, limit=10, offset=0),
    lambda r, u, t: tasks.restore_task(r, u, task_id=t),
    lambda r, u, t: tasks.purge_task(r, u, task_id=t),
    lambda r, u, _: tasks.empty_trash(r, u),
    lambda r, u, _: tag_counts(r, u),
]


@pytest.mark.parametrize("service", SERVICES, ids=range(len(SERVICES)))
def test_every_task_service_refuses_a_user_who_does_not_exist(
    runner: Runner, bobs_task: int, service: Callable[[Runner, TokenClaims, int], Any]
) -> None:
    """The rule lives in the services, whichever door calls them: a user who is gone has no
    live session."""
    now = utcnow()
    nobody = TokenClaims(uuid.uuid4(), uuid.uuid4(), "access", now, now, session_id=uuid.uuid4())
    with pytest.raises(AuthError, match="Session has ended"):
        service(runner, nobody, bobs_task)
