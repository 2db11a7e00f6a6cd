"""Swagger UI, ReDoc and GraphiQL come from this service alone, under a strict
Content-Security-Policy (contract: "Documentation pages and production mode"). In process, no
browser: tests/reliability/test_docs_in_browser.py runs the pages in Chromium."""

import hashlib
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from app.docs import ASSETS_PATH, CONTENT_SECURITY_POLICIES, STATIC, Page
from app.factory import create_app
from app.settings import Settings
from tests.conftest import ROOT

VENDOR = STATIC / "docs" / "vendor"
MANIFEST: dict[str, Any] = json.loads((VENDOR / "MANIFEST.json").read_text())
HTML = {"Accept": "text/html"}
# path, headers, the page's name in CONTENT_SECURITY_POLICIES
PAGES: list[tuple[str, dict[str, str], Page]] = [
    ("/docs", {}, "swagger-ui"),
    ("/redoc", {}, "redoc"),
    ("/graphql", HTML, "graphiql"),
]
PAGE_IDS = ["swagger-ui", "redoc", "graphiql"]


class PageParts(HTMLParser):
    """What a page loads, and any script or style it carries inline."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []  # every <script src> and <link href>
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self._in_script = tag == "script"
        if tag == "script":
            if not found.get("src"):
                self.inline.append("<script> without src")
            else:
                self.links.append(str(found["src"]))
        if tag == "link" and found.get("href"):
            self.links.append(str(found["href"]))
        if tag == "style":
            self.inline.append("<style>")
        self.inline += [f"{tag} {name}=" for name in found if name.startswith("on")]
        self.inline += [f"{tag} style=" for name in found if name == "style"]

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"script text {data.strip()[:40]!r}")


def _parts(html: str) -> PageParts:
    parser = PageParts()
    parser.feed(html)
    return parser


def _directives(policy: str) -> dict[str, list[str]]:
    return {
        name: sources
        for name, *sources in (part.split() for part in policy.split(";") if part.strip())
    }


@pytest.mark.parametrize(("path", "headers", "page"), PAGES, ids=PAGE_IDS)
def test_each_page_answers_with_its_strict_content_security_policy(
    client: TestClient, path: str, headers: dict[str, str], page: Page
) -> None:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICIES[page]  # set by the page, kept by the middleware
    directives = _directives(policy)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    for name, sources in directives.items():
        for source in sources:
            # No other origin, no wildcard, nothing 'unsafe-...': only this origin, nothing,
            # what the page itself builds (data:, blob:), or one exact inline style by its hash.
            assert source in {"'self'", "'none'", "data:", "blob:"} or (
                name == "style-src" and re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", source)
            ), f"{name} {source}"


def test_only_redoc_needs_more_than_self_for_styles_and_workers() -> None:
    """Swagger UI and GraphiQL run with styles and workers from this origin only."""
    pages: list[Page] = ["swagger-ui", "graphiql"]
    for page in pages:
        directives = _directives(CONTENT_SECURITY_POLICIES[page])
        assert directives["style-src"] == ["'self'"]
        assert "worker-src" not in directives  # default-src 'self'


@pytest.mark.parametrize(("path", "headers", "page"), PAGES, ids=PAGE_IDS)
def test_every_script_and_style_sheet_is_served_by_the_service(
    client: TestClient, path: str, headers: dict[str, str], page: str
) -> None:
    links = _parts(client.get(path, headers=headers).text).links
    assert links
    for link in links:
        if link == "data:,":  # the empty favicon: no request at all
            continue
        parts = urlsplit(link)
        assert (parts.scheme, parts.netloc) == ("", ""), f"{link} is on another origin"
        assert link.startswith(f"{ASSETS_PATH}/")
        response = client.get(link)
        assert response.status_code == 200, link
        kind = "text/javascript" if link.endswith(".js") else "text/css"
        assert response.headers["content-type"].startswith(kind), link
        assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(("path", "headers", "page"), PAGES, ids=PAGE_IDS)
def test_pages_carry_no_inline_script_or_style(
    client: TestClient, path: str, headers: dict[str, str], page: str
) -> None:
    assert _parts(client.get(path, headers=headers).text).inline == []


def test_the_openapi_document_address_is_given_to_both_api_pages(client: TestClient) -> None:
    assert 'data-openapi-url="/openapi.json"' in client.get("/docs").text
    assert '<redoc spec-url="/openapi.json">' in client.get("/redoc").text


def test_pages_link_under_the_apps_mount_point(app: Any) -> None:
    with TestClient(app, root_path="/todo") as mounted:
        page = mounted.get("/docs").text
    assert 'data-openapi-url="/todo/openapi.json"' in page
    links = [link for link in _parts(page).links if link != "data:,"]
    assert links
    assert all(link.startswith(f"/todo{ASSETS_PATH}/") for link in links)


def test_vendored_files_are_exactly_the_manifests(client: TestClient) -> None:
    """vendor.py wrote them from the lockfile's packages; nothing added or edited by hand."""
    listed = {
        f"{folder}/{name}": entry["sha256"]
        for folder, package in MANIFEST.items()
        for name, entry in package["files"].items()
    }
    present = {
        path.relative_to(VENDOR).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in VENDOR.rglob("*")
        if path.is_file() and path.name != "MANIFEST.json"
    }
    assert present == listed


def test_every_vendored_bundle_is_loaded_by_a_page(client: TestClient) -> None:
    """The vendored set stays minimal: each script or style sheet copied is one a page loads."""
    loaded = {
        link
        for path, headers, _ in PAGES
        for link in _parts(client.get(path, headers=headers).text).links
    }
    bundles = {
        f"{ASSETS_PATH}/vendor/{folder}/{name}"
        for folder, package in MANIFEST.items()
        for name in package["files"]
        if name.endswith((".js", ".css"))
    }
    assert bundles <= loaded


@pytest.mark.parametrize("folder", sorted(MANIFEST))
def test_each_vendored_package_has_its_licence_beside_it(client: TestClient, folder: str) -> None:
    licence = VENDOR / folder / "LICENSE"
    assert "Permission is hereby granted" in licence.read_text() or (
        "Apache License" in licence.read_text()
    )
    response = client.get(f"{ASSETS_PATH}/vendor/{folder}/LICENSE")
    assert response.status_code == 200
    assert response.text == licence.read_text()


def test_vendored_versions_are_the_lockfiles_with_integrity_hashes() -> None:
    package = json.loads((ROOT / "docs_assets" / "package.json").read_text())
    lock = json.loads((ROOT / "docs_assets" / "package-lock.json").read_text())
    for name, version in package["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned exactly"
        locked = lock["packages"][f"node_modules/{name}"]
        assert locked["version"] == version
    for path, locked in lock["packages"].items():
        if path:  # the root entry is the project itself
            assert locked["integrity"].startswith("sha512-"), path
    for package_entry in MANIFEST.values():
        name = package_entry["package"]
        assert lock["packages"][f"node_modules/{name}"]["version"] == package_entry["version"]


@pytest.fixture
def production_app(make_settings: Callable[..., Settings]) -> Callable[..., TestClient]:
    """A client of the app in production, with settings overridden as given."""

    def start(**overrides: Any) -> TestClient:
        return TestClient(create_app(make_settings(environment="production", **overrides)))

    return start


ASSET = f"{ASSETS_PATH}/vendor/swagger-ui/swagger-ui-bundle.js"


@pytest.mark.parametrize("path", ["/docs", "/redoc", ASSET, f"{ASSETS_PATH}/swagger-init.js"])
def test_production_serves_no_documentation_page_or_asset(
    production_app: Callable[..., TestClient], path: str
) -> None:
    with production_app() as production:
        response = production.get(path, headers=HTML)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found"}
        assert production.get("/graphql", headers=HTML).status_code == 404


def test_api_docs_true_serves_the_pages_and_assets_in_production(
    production_app: Callable[..., TestClient],
) -> None:
    with production_app(api_docs=True) as production:
        for path in ("/docs", "/redoc", ASSET):
            assert production.get(path).status_code == 200
        assert production.get("/graphql", headers=HTML).status_code == 404  # GraphiQL stays off


def test_graphiql_alone_serves_its_assets_but_not_the_api_pages(
    production_app: Callable[..., TestClient],
) -> None:
    with production_app(graphql_ide=True) as production:
        page = production.get("/graphql", headers=HTML)
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICIES["graphiql"]
        for link in _parts(page.text).links:
            assert link == "data:," or production.get(link).status_code == 200
        assert production.get("/docs").status_code == 404


def test_api_answers_do_not_get_the_pages_policy(client: TestClient) -> None:
    assert "content-security-policy" not in client.get("/api/health").headers
    assert "content-security-policy" not in client.get("/openapi.json").headers


def test_unknown_asset_is_a_json_404(client: TestClient) -> None:
    response = client.get(f"{ASSETS_PATH}/vendor/nothing.js")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_page_files_are_answered_only_by_their_routes(client: TestClient) -> None:
    """The HTML lives outside the mounted folder, so it never goes out without its policy."""
    assert (STATIC / "pages" / "swagger-ui.html").is_file()
    for path in (f"{ASSETS_PATH}/swagger-ui.html", "/static/pages/swagger-ui.html"):
        assert client.get(path).status_code == 404
