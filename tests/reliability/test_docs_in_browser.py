"""The documentation pages in a real browser that cannot leave the server's origin (contract:
"Documentation pages and production mode").

tests/browser/docs.mjs (playwright-core, pinned by its package-lock.json) drives Debian's
chromium against a live server: Swagger UI runs GET /api/health with "Try it out", ReDoc
searches, GraphiQL runs `{ me { email } }` with the token set in its headers editor; every
request to another origin is aborted, and any console error (a CSP violation is one), page
error, failed request or 4xx/5xx answer fails it. `make test` installs the Node part with
`npm ci` when npm is there; without Node, that install or /usr/bin/chromium the test skips,
except where REQUIRE_NODE_TOOLS is set (.ci/run sets it and installs chromium).

To refresh the README's screenshot: run the script against `make run` with a real token and
`docs/graphiql-offline.png` as its third argument.
"""

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.docs import CONTENT_SECURITY_POLICIES, Page
from tests.reliability.live import register
from tests.reliability.servers import Server

TOOLS = Path(__file__).parent.parent / "browser"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
PAGES: dict[str, Page] = {"/docs": "swagger-ui", "/redoc": "redoc", "/graphql": "graphiql"}


def _node() -> str:
    """Node, once the script's dependencies and the browser are there; else skip (or fail)."""
    node = shutil.which("node")
    missing = [
        what
        for what, present in [
            ("Node", node is not None),
            (
                "`npm ci` in tests/browser",
                (TOOLS / "node_modules" / ".package-lock.json").is_file(),
            ),
            (f"{CHROMIUM} (apt-get install chromium)", CHROMIUM.is_file()),
        ]
        if not present
    ]
    if missing:
        reason = f"the browser test needs {', '.join(missing)}"
        if os.environ.get("REQUIRE_NODE_TOOLS"):
            pytest.fail(reason)
        pytest.skip(reason)
    assert node is not None
    return node


def _run_in_browser(node: str, server: Server, access_token: str, screenshot: Path) -> Any:
    """The script's report (JSON); the test fails with its problems when it found any."""
    finished = subprocess.run(  # noqa: S603 (node from PATH, our script, our arguments)
        [node, "docs.mjs", server.url, access_token, str(screenshot)],
        cwd=TOOLS,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "CHROMIUM": str(CHROMIUM)},
    )
    try:
        report = json.loads(finished.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"docs.mjs exited with {finished.returncode}:\n{finished.stderr[-3000:]}")
    assert finished.returncode == 0, "\n".join(report["problems"])
    return report


def test_docs_and_graphiql_work_in_a_browser_with_no_other_origin(
    live_servers: Callable[[str], Server], tmp_path: Path
) -> None:
    node = _node()
    server = live_servers("sqlite")  # the pages do not depend on the database
    account = register(server.url)
    screenshot = tmp_path / "graphiql.png"

    report = _run_in_browser(node, server, account.access_token, screenshot)

    assert report["problems"] == report["blocked"] == []
    for path, page in PAGES.items():
        assert report["pages"][path]["status"] == 200
        assert report["pages"][path]["csp"] == CONTENT_SECURITY_POLICIES[page]
    swagger = report["pages"]["/docs"]["tryItOut"]
    assert swagger["status"] == 200
    assert swagger["body"]["status"] == "healthy"
    redoc = report["pages"]["/redoc"]
    assert redoc["title"].startswith("Todo API")
    assert redoc["operations"] > 10
    assert redoc["searchResults"] > 0
    graphiql = report["pages"]["/graphql"]
    assert graphiql["query"] == "{ me { email } }"
    assert graphiql["result"] == {"data": {"me": {"email": account.email}}}
    assert screenshot.read_bytes().startswith(b"\x89PNG")
