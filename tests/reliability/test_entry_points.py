"""The conventional entry point, `app.main:app`, beside the factory the tests use."""

from pathlib import Path

import httpx

from tests.conftest import migrate
from tests.reliability.servers import server_env, uvicorn_server


def test_uvicorn_serves_app_main_app_built_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'main.db'}"
    migrate(url)
    with uvicorn_server(server_env(url), tmp_path, app=("app.main:app",)) as server:
        health = httpx.get(f"{server.url}/api/health", timeout=5)
        graphql = httpx.post(f"{server.url}/graphql", json={"query": "{ __typename }"}, timeout=5)
    assert health.status_code == 200
    assert graphql.json() == {"data": {"__typename": "Query"}}
