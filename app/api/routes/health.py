"""`/api/health`: is the service up, and can it reach its database?"""

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

from app.api.deps import RuntimeDep
from app.api.routing import OrjsonRoute
from models.types import utcnow

router = APIRouter(tags=["health"], route_class=OrjsonRoute)


class Health(SQLModel):
    status: Literal["healthy"]
    timestamp: datetime
    database: Literal["ok"]


class Unhealthy(SQLModel):
    status: Literal["unhealthy"]
    timestamp: datetime
    database: Literal["unreachable"]
    detail: str


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Unhealthy, "description": "The database cannot be reached"}},
)
def health(runtime: RuntimeDep) -> Health | JSONResponse:
    try:
        with runtime.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        body = Unhealthy(
            status="unhealthy",
            timestamp=utcnow(),
            database="unreachable",
            detail="The database cannot be reached",
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return Health(status="healthy", timestamp=utcnow(), database="ok")
