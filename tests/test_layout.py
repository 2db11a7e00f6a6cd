"""The layout's rules: imports run one way, and each door stays in its own room."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "models", "schema", "resolvers")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Each module of the four packages, and the modules of those packages it imports."""
    modules = {
        _module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            found |= {target for target in targets if target in modules and target != name}
        graph[name] = found
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, if there is any (depth-first search)."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            if cycle := visit(imported, [*path, module]):
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        if cycle := visit(module, []):
            return cycle
    return None


def test_no_module_imports_one_that_imports_it_back() -> None:
    cycle = _cycle(_imports())
    assert cycle is None, " -> ".join(cycle or [])


def test_packages_depend_one_way_but_for_the_app_factory() -> None:
    """resolvers -> schema -> app -> models; `app.factory` alone mounts both doors."""
    packages: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for module, imported_modules in _imports().items():
        if module not in ("app.factory", "app.main"):
            packages[module.split(".")[0]] |= {m.split(".")[0] for m in imported_modules}
    for package in packages:
        packages[package].discard(package)
    cycle = _cycle(packages)
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        ("app.api", ("schema", "resolvers")),  # the REST door knows nothing of GraphQL's
        ("app.services", ("app.api", "schema", "resolvers")),  # services know no door
        ("schema", ("resolvers",)),  # types, no resolvers
        ("models", ("app", "schema", "resolvers")),
    ],
)
def test_a_room_does_not_reach_into_another(importer: str, forbidden: tuple[str, ...]) -> None:
    reaching = {
        f"{module} -> {imported}"
        for module, imported_modules in _imports().items()
        if module == importer or module.startswith(f"{importer}.")
        for imported in imported_modules
        if any(imported == room or imported.startswith(f"{room}.") for room in forbidden)
    }
    assert not reaching


def _modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_no_service_imports_an_orm_session() -> None:
    """Services run SQL one way: Core statements on a `Runner`, never an ORM `Session`."""
    using = [
        str(path.relative_to(ROOT))
        for path in _modules_of("app/services")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        and node.module in {"sqlmodel", "sqlalchemy.orm"}
        and any(alias.name == "Session" for alias in node.names)
    ]
    assert using == []


def test_the_statement_runner_knows_no_broker() -> None:
    """SQLite's events leave a `Runner` through its after-commit hook, wired in by its owner."""
    assert "app.broker" not in _imports()["app.statements"]


# Modules of app/ allowed past 300 lines, each with its reason.
LONG_MODULES: dict[str, str] = {
    "app/settings.py": "every setting in one typed object, each with its documentation",
}


def test_no_module_of_app_is_over_300_lines_but_those_named() -> None:
    long = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in _modules_of("app")
        if len(path.read_text().splitlines()) > 300
    }
    assert set(long) <= set(LONG_MODULES), long


def test_the_task_tables_rules_are_written_in_one_module() -> None:
    """Live or trashed, and how a table is reached, are each written once."""
    task_table = ROOT / "app" / "services" / "task_table.py"
    for path in _modules_of("app"):
        text = path.read_text()
        if path != task_table:
            assert "deleted_at.is_(" not in text, path
            assert "deleted_at.is_not(" not in text, path
        if path.name != "tables.py":
            assert ".metadata.tables[" not in text, path


def test_graphql_types_hold_data_not_callables() -> None:
    """What needs the database is a field resolver reading `info.context`."""
    for path in _modules_of("schema"):
        assert "Private[Callable" not in path.read_text(), path
