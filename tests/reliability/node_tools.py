"""The Node scripts of tests/graphql_http (pinned by its package-lock.json), run against live
servers. `make test` installs them with `npm ci` when npm is there; without Node their tests
skip, except where REQUIRE_NODE_TOOLS is set (.ci/run sets it), so CI never skips them silently."""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

TOOLS = Path(__file__).parent.parent / "graphql_http"


def node_with_modules(tools: Path) -> str:
    """Node, once `npm ci` has installed the modules of the folder `tools`; else the test skips
    (or fails, where REQUIRE_NODE_TOOLS is set)."""
    node = shutil.which("node")
    if node is None or not (tools / "node_modules" / ".package-lock.json").is_file():
        reason = f"Node, and `npm ci` in tests/{tools.name}, are needed for this test"
        if os.environ.get("REQUIRE_NODE_TOOLS"):
            pytest.fail(reason)
        pytest.skip(reason)
    return node


def run_node(script: str, *arguments: str) -> Any:
    """Run `script` of tests/graphql_http with `arguments`; its standard output, as JSON."""
    node = node_with_modules(TOOLS)
    finished = subprocess.run(  # noqa: S603 (node from PATH, our script, our arguments)
        [node, script, *arguments],
        cwd=TOOLS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)
