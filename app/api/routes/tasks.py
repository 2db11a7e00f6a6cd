"""`/api/tasks`: the caller's own tasks. Another user's task is answered as if it did not exist."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.api.deps import CurrentUser, DatabaseDep
from app.api.responses import TOTAL_COUNT_HEADER, errors
from app.api.routing import OrjsonRoute
from app.database import Database
from app.services import tasks
from app.services.tasks import MAX_PAGE_SIZE, MAX_TASK_ID
from models.task import TaskCreate, TaskFilter, TaskPublic, TaskStats, TaskUpdate
from models.text import SearchText
from models.user import Message, User

router = APIRouter(prefix="/tasks", tags=["tasks"], route_class=OrjsonRoute)

TaskId = Annotated[int, Path(ge=1, le=MAX_TASK_ID, description="The task's id")]


@router.get(
    "",
    response_model=list[TaskPublic],
    responses={200: {"headers": TOTAL_COUNT_HEADER}, **errors(400, 401)},
)
async def list_tasks(
    user: CurrentUser,
    db: DatabaseDep,
    response: Response,
    completed: bool | None = None,
    q: Annotated[SearchText | None, Query(description="Case-insensitive substring")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_TASK_ID)] = 0,
) -> list[tasks.TaskView]:
    """Incomplete tasks first, then newest first. `X-Total-Count` counts all that match."""
    task_filter = TaskFilter(completed=completed, search=q)
    found = await db.run(
        tasks.list_tasks, user_id=user.id, task_filter=task_filter, limit=limit, offset=offset
    )
    response.headers["X-Total-Count"] = str(found.total)
    return found.tasks  # shaped into TaskPublic once, by the response model


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskPublic,
    responses=errors(400, 401, 413),
)
async def create_task(data: TaskCreate, user: CurrentUser, db: DatabaseDep) -> TaskPublic:
    task = await db.run(tasks.create_task, user_id=user.id, data=data)
    return TaskPublic.model_validate(task)


@router.get("/stats", response_model=TaskStats, responses=errors(401))
async def task_stats(user: CurrentUser, db: DatabaseDep) -> TaskStats:
    return await db.run(tasks.task_stats, user_id=user.id)


@router.get("/{task_id}", response_model=TaskPublic, responses=errors(400, 401, 404))
async def get_task(task_id: TaskId, user: CurrentUser, db: DatabaseDep) -> TaskPublic:
    task = await db.run(tasks.get_task, user_id=user.id, task_id=task_id)
    return TaskPublic.model_validate(task)


async def _update(task_id: int, changes: TaskUpdate, user: User, db: Database) -> TaskPublic:
    task = await db.run(tasks.update_task, user_id=user.id, task_id=task_id, changes=changes)
    return TaskPublic.model_validate(task)


@router.put("/{task_id}", response_model=TaskPublic, responses=errors(400, 401, 404, 413))
async def update_task(
    task_id: TaskId, changes: TaskUpdate, user: CurrentUser, db: DatabaseDep
) -> TaskPublic:
    """Change any of title, description, completed; fields left out stay as they are."""
    return await _update(task_id, changes, user, db)


@router.patch("/{task_id}", response_model=TaskPublic, responses=errors(400, 401, 404, 413))
async def patch_task(
    task_id: TaskId, changes: TaskUpdate, user: CurrentUser, db: DatabaseDep
) -> TaskPublic:
    """The same as PUT: a partial update."""
    return await _update(task_id, changes, user, db)


@router.patch("/{task_id}/toggle", response_model=TaskPublic, responses=errors(400, 401, 404))
async def toggle_task(task_id: TaskId, user: CurrentUser, db: DatabaseDep) -> TaskPublic:
    """Flip `completed`."""
    task = await db.run(tasks.toggle_task, user_id=user.id, task_id=task_id)
    return TaskPublic.model_validate(task)


@router.delete("/{task_id}", response_model=Message, responses=errors(400, 401, 404))
async def delete_task(task_id: TaskId, user: CurrentUser, db: DatabaseDep) -> Message:
    await db.run(tasks.delete_task, user_id=user.id, task_id=task_id)
    return Message(message="Task deleted successfully")
