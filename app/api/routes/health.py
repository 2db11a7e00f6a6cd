"""`/api/health`: is the service up, and can it reach its database?"""

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlmodel import SQLModel

from app.api.deps import DatabaseDep
from app.api.routing import OrjsonRoute
from app.database import ping
from app.errors import Unavailable
from models.utc import utcnow

router = APIRouter(prefix="/api", tags=["health"], route_class=OrjsonRoute)


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
async def health(db: DatabaseDep) -> Health | JSONResponse:
    try:
        await db.run(ping)
    except Unavailable:
        body = Unhealthy(
            status="unhealthy",
            timestamp=utcnow(),
            database="unreachable",
            detail="The database cannot be reached",
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return Health(status="healthy", timestamp=utcnow(), database="ok")
