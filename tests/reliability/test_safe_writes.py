"""Over real sockets, many requests at once: an Idempotency-Key creates one task, and of writers
that all send the same If-Match exactly one wins (contract: "Safe retries", "Versions")."""

import httpx

from tests.reliability.live import at_once, register
from tests.reliability.servers import Server


def test_concurrent_requests_with_one_key_create_one_task(live_server: Server) -> None:
    account = register(live_server.url)
    headers = {**account.headers, "Idempotency-Key": "concurrent-key"}

    async def create(client: httpx.AsyncClient, _index: int) -> httpx.Response:
        return await client.post("/api/tasks", json={"title": "exactly once"}, headers=headers)

    answers = at_once(live_server.url, 12, create)
    created = {answer.json()["id"] for answer in answers if answer.status_code == 201}
    assert len(created) == 1
    # Each waits for the first and replays its answer, or is told the key is in use.
    assert all(answer.status_code in {201, 409} for answer in answers)
    listed = httpx.get(f"{live_server.url}/api/tasks", headers=account.headers).json()
    assert [task["id"] for task in listed] == list(created)


def test_concurrent_writers_with_the_same_if_match_leave_exactly_one_change(
    live_server: Server,
) -> None:
    account = register(live_server.url)
    task = httpx.post(
        f"{live_server.url}/api/tasks", json={"title": "contested"}, headers=account.headers
    ).json()
    headers = {**account.headers, "If-Match": '"1"'}

    async def write(client: httpx.AsyncClient, index: int) -> int:
        body = {"title": f"writer {index}", "tags": [f"tag {index}"]}
        answer = await client.patch(f"/api/tasks/{task['id']}", json=body, headers=headers)
        return answer.status_code

    statuses = at_once(live_server.url, 12, write)
    assert sorted(statuses) == [200] + [412] * 11
    final = httpx.get(f"{live_server.url}/api/tasks/{task['id']}", headers=account.headers).json()
    assert final["version"] == 2
    assert final["tags"] == [f"tag {final['title'].removeprefix('writer ')}"]
