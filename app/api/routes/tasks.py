"""`/api/tasks`: the caller's own tasks. Another user's task is answered as if it did not exist.

Each handler runs one service for the token's user (the service refuses a user who no longer
exists) and answers the task rows as JSON; `response_model` documents them.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.api.deps import DatabaseDep, Viewer
from app.api.responses import TOTAL_COUNT_HEADER, errors, json_body
from app.api.routing import OrjsonRoute
from app.services import tasks as task_service
from app.services.tasks import MAX_PAGE_SIZE, MAX_TASK_ID
from models.responses import Message
from models.task import TaskCreate, TaskFilter, TaskPublic, TaskStats, TaskUpdate
from models.text import SearchText

router = APIRouter(prefix="/tasks", tags=["tasks"], route_class=OrjsonRoute)

TaskId = Annotated[int, Path(ge=1, le=MAX_TASK_ID, description="The task's id")]


@router.get(
    "",
    response_model=list[TaskPublic],
    responses={200: {"headers": TOTAL_COUNT_HEADER}, **errors(400, 401)},
)
async def list_tasks(
    viewer: Viewer,
    db: DatabaseDep,
    completed: bool | None = None,
    q: Annotated[SearchText | None, Query(description="Case-insensitive substring")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_TASK_ID)] = 0,
) -> Response:
    """Incomplete tasks first, then newest first. `X-Total-Count` counts all that match."""
    task_filter = TaskFilter(completed=completed, search=q)
    found = await db.read(
        task_service.list_tasks, viewer.user_id, task_filter=task_filter, limit=limit, offset=offset
    )
    return json_body(found.tasks, headers={"X-Total-Count": str(found.total)})


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskPublic,
    responses=errors(400, 401, 413),
)
async def create_task(data: TaskCreate, viewer: Viewer, db: DatabaseDep) -> Response:
    task = await db.read(task_service.create_task, viewer.user_id, data=data)
    return json_body(task, status.HTTP_201_CREATED)


@router.get("/stats", response_model=TaskStats, responses=errors(401))
async def task_stats(viewer: Viewer, db: DatabaseDep) -> TaskStats:
    return await db.read(task_service.task_stats, viewer.user_id)


@router.get("/{task_id}", response_model=TaskPublic, responses=errors(400, 401, 404))
async def get_task(task_id: TaskId, viewer: Viewer, db: DatabaseDep) -> Response:
    return json_body(await db.read(task_service.get_task, viewer.user_id, task_id=task_id))


@router.put("/{task_id}", response_model=TaskPublic, responses=errors(400, 401, 404, 413))
async def update_task(
    task_id: TaskId, changes: TaskUpdate, viewer: Viewer, db: DatabaseDep
) -> Response:
    """Change any of title, description, completed; fields left out stay as they are."""
    updated = await db.read(
        task_service.update_task, viewer.user_id, task_id=task_id, changes=changes
    )
    return json_body(updated)


@router.patch("/{task_id}", response_model=TaskPublic, responses=errors(400, 401, 404, 413))
async def patch_task(
    task_id: TaskId, changes: TaskUpdate, viewer: Viewer, db: DatabaseDep
) -> Response:
    """The same as PUT: a partial update."""
    return await update_task(task_id, changes, viewer, db)


@router.patch("/{task_id}/toggle", response_model=TaskPublic, responses=errors(400, 401, 404))
async def toggle_task(task_id: TaskId, viewer: Viewer, db: DatabaseDep) -> Response:
    """Flip `completed`."""
    return json_body(await db.read(task_service.toggle_task, viewer.user_id, task_id=task_id))


@router.delete("/{task_id}", response_model=Message, responses=errors(400, 401, 404))
async def delete_task(task_id: TaskId, viewer: Viewer, db: DatabaseDep) -> Message:
    await db.read(task_service.delete_task, viewer.user_id, task_id=task_id)
    return Message(message="Task deleted successfully")
