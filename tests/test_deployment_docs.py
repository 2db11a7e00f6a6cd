"""docs/deployment.md shows each deploy/ file as it is: the files tests/reliability/test_topology.py
runs are the files the page shows, so neither can change without the other."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENT = ROOT / "docs" / "deployment.md"
DEPLOY_FILES = sorted((ROOT / "deploy").iterdir())
FENCED = re.compile(r"^```[a-z]*\n(.*?)^```$", flags=re.MULTILINE | re.DOTALL)


def test_there_are_deploy_files_to_show() -> None:
    assert {path.name for path in DEPLOY_FILES} >= {"nginx.conf", "pgbouncer.ini", "prometheus.yml"}


@pytest.mark.parametrize("deploy_file", DEPLOY_FILES, ids=lambda path: path.name)
def test_the_deployment_page_shows_the_file_verbatim(deploy_file: Path) -> None:
    blocks = FENCED.findall(DEPLOYMENT.read_text())
    assert deploy_file.read_text() in blocks, (
        f"docs/deployment.md has no fenced block that is deploy/{deploy_file.name} as it is: "
        "paste the file into its block"
    )


def test_a_block_with_more_than_the_file_does_not_show_it() -> None:
    page = "```nginx\nworker_processes 1;\nuser nobody;\n```\n"
    assert FENCED.findall(page) == ["worker_processes 1;\nuser nobody;\n"]
    assert "worker_processes 1;\n" not in FENCED.findall(page)
