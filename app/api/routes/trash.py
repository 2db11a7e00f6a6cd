"""`/api/trash`: the caller's deleted tasks, until they are restored or purged."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.conditions import etag
from app.api.deps import DatabaseDep, Viewer
from app.api.responses import ETAG_HEADER, TOTAL_COUNT_HEADER, errors, json_body
from app.api.routes.tasks import DEFAULT_LIMIT, TaskId
from app.api.routing import OrjsonRoute
from app.services import listing
from app.services import tasks as task_service
from app.services.task_table import MAX_TASK_ID
from models.responses import Message, Purged
from models.task import MAX_PAGE_SIZE, TaskPublic, TrashedTask

router = APIRouter(prefix="/api/trash", tags=["trash"], route_class=OrjsonRoute)


@router.get(
    "",
    response_model=list[TrashedTask],
    responses={200: {"headers": TOTAL_COUNT_HEADER}, **errors(400, 401)},
)
async def list_trash(
    viewer: Viewer,
    db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_TASK_ID)] = 0,
) -> Response:
    """Most recently deleted first. Tasks stay here TRASH_RETENTION_DAYS, then go for good."""
    found = await db.run(listing.list_trash, viewer, limit=limit, offset=offset)
    return json_body(found.tasks, headers={"X-Total-Count": str(found.total)})


@router.post(
    "/{task_id}/restore",
    response_model=TaskPublic,
    responses={200: {"headers": ETAG_HEADER}, **errors(400, 401, 404, 429)},
)
async def restore_task(task_id: TaskId, viewer: Viewer, db: DatabaseDep) -> Response:
    """Back among your tasks, with its tags, one version more."""
    restored = await db.write(task_service.restore_task, viewer, task_id=task_id)
    return json_body(restored, headers=etag(restored))


@router.delete("/{task_id}", response_model=Message, responses=errors(400, 401, 404, 429))
async def purge_task(task_id: TaskId, viewer: Viewer, db: DatabaseDep) -> Message:
    await db.write(task_service.purge_task, viewer, task_id=task_id)
    return Message(message="Task deleted permanently")


@router.delete("", response_model=Purged, responses=errors(401, 429))
async def empty_trash(viewer: Viewer, db: DatabaseDep) -> Purged:
    return Purged(purged=await db.write(task_service.empty_trash, viewer))
