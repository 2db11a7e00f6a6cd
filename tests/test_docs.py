"""The documentation stays true: the settings table, the contract's copy, and every link."""

import re
from pathlib import Path

import pytest
from pydantic.fields import FieldInfo

from app.settings import Settings
from app.settings_table import BEGIN, END, render_table, row, table_in, with_table

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CONTRACT_COPY = ROOT / "docs" / "contract.md"
# The canonical contract lives beside the repository (CI clones it there); an installed copy of
# the project has no such folder, and then there is nothing to compare with.
SHARED_CONTRACT = ROOT.parent / "shared" / "CONTRACT.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]


def _row_of(name: str) -> list[str]:
    return [cell.strip() for cell in row(name, Settings.model_fields[name]).strip("|").split(" | ")]


def test_the_readme_settings_table_is_the_one_settings_renders() -> None:
    assert table_in(README.read_text()) == render_table(), (
        "README.md's settings table differs from app.settings.Settings: run `make settings-table`"
    )


def test_the_table_has_a_row_for_every_setting() -> None:
    rows = render_table().splitlines()[2:]
    assert len(rows) == len(Settings.model_fields)


def test_a_setting_read_under_two_names_shows_both() -> None:
    assert _row_of("jwt_secret")[0] == "`JWT_SECRET` (or `BETTER_AUTH_SECRET`)"


def test_a_computed_default_is_the_one_its_description_states() -> None:
    """The CPU count differs between machines: the table says what it is, not what it was."""
    _, default, meaning = _row_of("max_concurrent_hashes")
    assert default == "the CPU count"
    assert "Default:" not in meaning


def test_a_default_of_none_decided_elsewhere_says_how() -> None:
    assert _row_of("api_docs")[1] == "off in production"
    assert _row_of("graphql_trusted_documents")[1] == "none"


def test_defaults_are_written_as_the_environment_would_write_them() -> None:
    assert _row_of("cors_origins")[1] == "`http://localhost:3000`"
    assert _row_of("request_body_timeout")[1] == "`15`"
    assert _row_of("telemetry")[1] == "`false`"


def test_a_setting_without_a_description_is_refused() -> None:
    field = FieldInfo(default=3)
    with pytest.raises(ValueError, match="no description"):
        row("undocumented", field)


def test_a_computed_default_must_be_stated() -> None:
    field = FieldInfo(default_factory=lambda: 3, description="Something.")
    with pytest.raises(ValueError, match="Default: "):
        row("computed", field)


def test_a_pipe_in_a_description_does_not_split_the_row() -> None:
    field = FieldInfo(default=1, description="One | two.")
    assert row("piped", field) == "| `PIPED` | `1` | One \\| two. |"


def test_rewriting_the_table_keeps_what_is_around_it() -> None:
    text = f"before\n{BEGIN}\nstale\n{END}\nafter\n"
    assert with_table(text) == f"before\n{BEGIN}\n{render_table()}\n{END}\nafter\n"


@pytest.mark.skipif(not SHARED_CONTRACT.is_file(), reason="no shared/CONTRACT.md beside the repo")
def test_the_contract_copy_is_the_shared_contract() -> None:
    note, _, copy = CONTRACT_COPY.read_text().partition("\n\n")
    assert note.startswith("> "), "docs/contract.md opens with a one-line note, then a blank line"
    assert copy == SHARED_CONTRACT.read_text(), (
        "docs/contract.md differs from ../shared/CONTRACT.md: keep its first line and paste the "
        "contract below it, e.g. `{ head -n 2 docs/contract.md; cat ../shared/CONTRACT.md; } > x`"
    )


def test_the_readme_is_a_front_door() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 300
    assert "make run" in text
    assert "make test" in text


_LINK = re.compile(r"\]\((?!https?://|mailto:)([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_local_link_finds_its_file_and_heading(document: Path) -> None:
    for target in _LINK.findall(document.read_text()):
        file, _, anchor = target.partition("#")
        path = (document.parent / file).resolve() if file else document
        assert path.exists(), f"{document.name} links to {target}, which is not there"
        if anchor:
            assert anchor in _anchors(path), f"{document.name} links to {target}: no such heading"
