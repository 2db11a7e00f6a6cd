"""The documentation pages (Swagger UI at `/docs`, ReDoc at `/redoc`, and the GraphiQL page the
GraphQL router answers), served with their scripts and styles from this service.

FastAPI's and Strawberry's own pages load their bundles from public CDNs and run inline scripts:
blank offline, and impossible under a policy of `'self'` only. Here each page is an HTML file of
app/static/pages with no inline script, whose bundles (app/static/docs/vendor, copied from the
npm lockfile of docs_assets/) and small init scripts are served at `/static/docs`, under its
entry of `CONTENT_SECURITY_POLICIES` (contract: "Documentation pages and production mode").
"""

from functools import cache
from html import escape
from pathlib import Path
from string import Template
from typing import Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.settings import Settings

STATIC = Path(__file__).resolve().parent / "static"
ASSETS_PATH = "/static/docs"

Page = Literal["swagger-ui", "redoc", "graphiql"]

# Nothing from another origin, and no inline or evaluated script. The `data:` images and fonts
# are those embedded in the vendored style sheets (Swagger UI's icons, GraphiQL's fonts).
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# ReDoc's bundle adds <style> elements: styled-components' are empty, filled through the CSSOM
# (which no policy governs), and one holds perfect-scrollbar's rules; both are allowed by hash,
# not with 'unsafe-inline'. Its search index runs in a worker built from a `blob:` of the
# bundle's own code (same origin). tests/reliability/test_docs_in_browser.py reports any other.
REDOC_POLICY = POLICY | {
    "style-src": " ".join(
        [
            "'self'",
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # an empty <style>
            "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar.css
        ]
    ),
    "worker-src": "'self' blob:",
}


def _header(policy: dict[str, str]) -> str:
    return "; ".join(f"{name} {sources}" for name, sources in policy.items())


CONTENT_SECURITY_POLICIES: dict[Page, str] = {
    "swagger-ui": _header(POLICY),
    "redoc": _header(REDOC_POLICY),
    "graphiql": _header(POLICY),
}


@cache
def _template(page: Page) -> Template:
    return Template((STATIC / "pages" / f"{page}.html").read_text(encoding="utf-8"))


def documentation_page(request: Request, page: Page) -> HTMLResponse:
    """`page`, its links made absolute under the app's mount point (`root_path`)."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    app: FastAPI = request.app
    values = {
        "title": app.title,
        "static": root + ASSETS_PATH,
        "openapi_url": root + (app.openapi_url or ""),
    }
    html = _template(page).substitute({name: escape(value) for name, value in values.items()})
    csp = CONTENT_SECURITY_POLICIES[page]
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})


router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return documentation_page(request, "swagger-ui")


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return documentation_page(request, "redoc")


def install_docs(app: FastAPI, settings: Settings) -> None:
    """`/docs` and `/redoc` where `API_DOCS` allows them, and the pages' files wherever a page
    (those two, or GraphiQL) is served; with every page off, none of it answers (404)."""
    if settings.api_docs_enabled:
        app.include_router(router)
    if settings.api_docs_enabled or settings.graphql_ide_enabled:
        app.mount(ASSETS_PATH, StaticFiles(directory=STATIC / "docs"), name="docs-assets")
