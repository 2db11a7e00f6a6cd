"""Racing requests: the database, not luck, decides the outcome."""

from concurrent.futures import ThreadPoolExecutor

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


def test_parallel_refreshes_of_one_token_succeed_at_most_once(
    client: TestClient, alice: Account
) -> None:
    def refresh(_: int) -> int:
        body = {"refresh_token": alice.refresh_token}
        return client.post("/api/auth/refresh", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(refresh, range(8)))
    assert statuses.count(200) <= 1
    assert set(statuses) <= {200, 401}
