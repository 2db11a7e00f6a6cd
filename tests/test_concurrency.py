"""Racing requests: the database, not luck, decides the outcome."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient

from tests.support import PASSWORD, Account, create_task


def test_simultaneous_signups_of_one_email_create_one_account(client: TestClient) -> None:
    def sign_up(_: int) -> int:
        body = {"email": "race@example.com", "name": "R", "password": PASSWORD}
        return client.post("/api/auth/signup", json=body).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(sign_up, range(10)))
    assert sorted(statuses) == [201] + [400] * 9


def test_parallel_toggles_leave_the_state_the_count_implies(
    client: TestClient, alice: Account
) -> None:
    task = create_task(client, alice, "flip")
    path = f"/api/tasks/{task['id']}/toggle"
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(lambda _: client.patch(path, headers=alice.headers).status_code, range(25))
        )
    assert statuses == [200] * 25
    final = client.get(f"/api/tasks/{task['id']}", headers=alice.headers).json()
    assert final["completed"] is True  # an odd number of flips


def test_parallel_refreshes_of_one_token_all_answer_its_one_successor(
    client: TestClient, alice: Account
) -> None:
    """A double (or octuple) submit within the grace: exactly one successor is made, and every
    request answers it; the chain goes on from there."""

    def refresh(_: int) -> Any:
        return client.post("/api/auth/refresh", json={"refresh_token": alice.refresh_token})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(refresh, range(8)))
    assert [response.status_code for response in responses] == [200] * 8
    successors = {response.json()["refresh_token"] for response in responses}
    assert len(successors) == 1
    onward = client.post("/api/auth/refresh", json={"refresh_token": successors.pop()})
    assert onward.status_code == 200
