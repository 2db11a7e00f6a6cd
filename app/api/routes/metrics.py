"""`/metrics`: the service's metrics (`app.metrics`), for Prometheus to scrape.

Never public by accident: outside development it answers only with `Authorization: Bearer
<METRICS_TOKEN>`, and is not there at all (404) without that setting."""

import hmac

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException

from app.api.deps import RuntimeDep

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def metrics(request: Request, runtime: RuntimeDep) -> Response:
    """Sync, so FastAPI runs it in a worker thread: in multiprocess mode it reads files."""
    settings = runtime.settings
    token = settings.metrics_token
    if token is None and settings.environment != "development":
        raise HTTPException(404, "Not Found")
    if token is not None:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token.get_secret_value()}".encode()):
            raise HTTPException(
                401, "A valid metrics token is required", {"WWW-Authenticate": "Bearer"}
            )
    body, media_type = runtime.metrics.exposition()
    return Response(body, media_type=media_type)
