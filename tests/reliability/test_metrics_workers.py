"""`/metrics` under `uvicorn --workers 2`: every worker's counts, added up, whichever worker
answers the scrape (prometheus-client's multiprocess mode, `app.metrics`)."""

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import migrate
from tests.reliability.servers import server_env, uvicorn_server

TOKEN = "scrape-" + "0123456789abcdef" * 2
REQUESTS = 40


def _samples(text: str, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def test_every_scrape_adds_up_the_counts_of_every_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    migrate(url)
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = server_env(url, METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(shared))
    with uvicorn_server(env, tmp_path, workers=2, app=("app.main:app",)) as server:
        for _ in range(REQUESTS):  # a connection each, so both workers take some
            assert httpx.get(f"{server.url}/api/tasks", timeout=10).status_code == 401
            query = {"query": "query Ping { __typename }"}
            assert httpx.post(f"{server.url}/graphql", json=query, timeout=10).status_code == 200
        scrapes = [
            httpx.get(
                f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
            ).text
            for _ in range(6)
        ]
        worker_files = {path.name.split("_")[-1] for path in shared.glob("*.db")}
    for text in scrapes:
        assert _samples(text, "todo_http_requests_total", route="/api/tasks") == REQUESTS
        assert _samples(text, "todo_graphql_operations_total", operation="Ping") == REQUESTS
        count = _samples(text, "todo_graphql_operation_duration_seconds_count", operation="Ping")
        assert count == REQUESTS
    assert len(worker_files) >= 2, "both workers wrote their values"
