"""`/api/tasks` and `/api/tags`: the caller's own tasks and tags. Another user's task is answered
as if it did not exist.

Each handler runs one service for the token's user (the service refuses a user who no longer
exists) and answers the task rows as JSON, with the task's version as its `ETag`;
`response_model` documents them.
"""

import re
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Request, Response, status
from pydantic import BaseModel, Field

from app.api.conditions import etag, expected_versions, not_modified
from app.api.deps import DatabaseDep, Viewer
from app.api.openapi import query_parameters
from app.api.responses import (
    ETAG_HEADER,
    IF_MATCH,
    REPLAYED_HEADER,
    TOTAL_COUNT_HEADER,
    errors,
    json_body,
)
from app.api.routing import OrjsonRoute
from app.errors import FieldError
from app.services import idempotency, listing, listing_filters
from app.services import tasks as task_service
from app.services.tags import tag_counts
from app.services.task_table import MAX_TASK_ID
from app.validation import invalid_input, validate
from models.idempotency import IDEMPOTENCY_KEY_MAX
from models.responses import Message
from models.task import (
    MAX_PAGE_SIZE,
    Priority,
    Sort,
    TagCount,
    TaskCreate,
    TaskFilter,
    TaskPublic,
    TaskStats,
    TaskUpdate,
)
from models.text import FILTER_VALUES_MAX, SearchText, TagName
from models.utc import UTCInstant

router = APIRouter(prefix="/api", tags=["tasks"], route_class=OrjsonRoute)

TaskId = Annotated[int, Path(ge=1, le=MAX_TASK_ID, description="The task's id")]
DEFAULT_LIMIT = 100  # of the REST lists (tasks, trash); GraphQL's `first` has a default of its own
SortParameter = Literal[
    "created_at", "-created_at", "updated_at", "-updated_at", "due_at", "-due_at",
    "priority", "-priority", "title", "-title",
]  # fmt: skip
PRIORITIES = ", ".join(priority.value for priority in Priority)


def _priorities(values: list[str] | None) -> list[Priority] | None:
    """`priority=high&priority=low` or `priority=high,low`."""
    if not values:
        return None
    try:
        found = {Priority(value.strip()) for joined in values for value in joined.split(",")}
    except ValueError:
        message = f"must be one or more of {PRIORITIES}"
        raise invalid_input([FieldError("priority", message)]) from None
    return list(found)  # each once (any of them matches); the listing orders them


class TaskQuery(BaseModel):
    """The query string of `GET /api/tasks`."""

    completed: bool | None = None
    q: SearchText | None = Field(None, description="Case-insensitive substring")
    priority: list[str] | None = Field(
        None, description=f"Any of these ({PRIORITIES}); repeated or comma-separated"
    )
    tag: list[TagName] | None = Field(
        None, max_length=FILTER_VALUES_MAX, description="Carries every one"
    )
    due_before: UTCInstant | None = Field(None, description="Due strictly before")
    due_after: UTCInstant | None = Field(None, description="Due at or after")
    overdue: bool | None = Field(None, description="Not completed and due before now")
    sort: SortParameter | None = Field(None, description="A field, `-` first for descending")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(0, ge=0, le=MAX_TASK_ID)


_NO_QUERY = TaskQuery()


async def task_query(request: Request) -> TaskQuery:
    """The query, validated in one pass. FastAPI's handling of ten declared parameters cost
    more CPU than the database's whole share of a list; the OpenAPI document lists them all
    the same (`query_parameters`)."""
    if not request.url.query:
        return _NO_QUERY
    params = request.query_params
    return validate(
        TaskQuery,
        {
            name: params.getlist(name) if name in {"priority", "tag"} else params[name]
            for name in TaskQuery.model_fields
            if name in params
        },
    )


@router.get(
    "/tasks",
    response_model=list[TaskPublic],
    responses={200: {"headers": TOTAL_COUNT_HEADER}, **errors(400, 401)},
    openapi_extra={"parameters": query_parameters(TaskQuery)},
)
async def list_tasks(
    viewer: Viewer, db: DatabaseDep, query: Annotated[TaskQuery, Depends(task_query)]
) -> Response:
    """Incomplete tasks first, then newest first; or by `sort`, ties broken by id in the same
    direction. `X-Total-Count` counts all that match."""
    task_filter = validate(
        TaskFilter,
        {
            "completed": query.completed,
            "search": query.q,
            "priorities": _priorities(query.priority),
            "tags": query.tag,
            "due_before": query.due_before,
            "due_after": query.due_after,
            "overdue": query.overdue,
        },
    )
    found = await db.run(
        listing.list_tasks,
        viewer,
        task_filter=task_filter,
        sort=Sort.parse(query.sort) if query.sort else None,
        limit=query.limit,
        offset=query.offset,
    )
    return json_body(found.tasks, headers={"X-Total-Count": str(found.total)})


_VISIBLE_ASCII = r"[\x21-\x7e]"
_IDEMPOTENCY_KEY = re.compile(rf"{_VISIBLE_ASCII}{{1,{IDEMPOTENCY_KEY_MAX}}}")
_KEY_HOURS = idempotency.IDEMPOTENCY_TTL // timedelta(hours=1)
IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        f"Visible ASCII: a repeat within {_KEY_HOURS} hours answers the first answer again"
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": IDEMPOTENCY_KEY_MAX,
        "pattern": f"^{_VISIBLE_ASCII}+$",
    },
}


async def idempotency_key(request: Request) -> str | None:
    """The `Idempotency-Key` header, checked here rather than declared as a parameter: FastAPI's
    parameter machinery cost every create tens of microseconds, with or without a key."""
    key = request.headers.get("idempotency-key")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        message = f"must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters"
        raise invalid_input([FieldError("Idempotency-Key", message)])
    return key


@router.post(
    "/tasks",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskPublic,
    responses={
        201: {"headers": {**ETAG_HEADER, **REPLAYED_HEADER}},
        **errors(400, 401, 409, 413, 429),
    },
    openapi_extra={"parameters": [IDEMPOTENCY_KEY_PARAMETER]},
)
async def create_task(
    data: TaskCreate,
    viewer: Viewer,
    db: DatabaseDep,
    key: Annotated[str | None, Depends(idempotency_key)],
) -> Response:
    if key is None:
        task = await db.write(task_service.create_task, viewer, data=data)
        return json_body(task, status.HTTP_201_CREATED, etag(task))
    answer = await db.write(idempotency.create_once, viewer, key=key, data=data)
    headers = etag(answer.body) | ({"Idempotent-Replayed": "true"} if answer.replayed else {})
    return json_body(answer.body, answer.status_code, headers)


@router.get("/tasks/stats", response_model=TaskStats, responses=errors(401))
async def task_stats(viewer: Viewer, db: DatabaseDep) -> TaskStats:
    return await db.run(listing_filters.task_stats, viewer)


@router.get(
    "/tasks/{task_id}",
    response_model=TaskPublic,
    responses={
        200: {"headers": ETAG_HEADER},
        304: {"description": "Not modified"},
        **errors(400, 401, 404),
    },
)
async def get_task(
    task_id: TaskId,
    viewer: Viewer,
    db: DatabaseDep,
    if_none_match: Annotated[
        str | None, Header(alias="If-None-Match", description="The ETag you have")
    ] = None,
) -> Response:
    task = await db.run(task_service.get_task, viewer, task_id=task_id)
    if not_modified(if_none_match, task["version"]):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=etag(task))
    return json_body(task, headers=etag(task))


_CHANGED = {200: {"headers": ETAG_HEADER}, **errors(400, 401, 404, 412, 413, 429)}


@router.put("/tasks/{task_id}", response_model=TaskPublic, responses=_CHANGED)
async def update_task(
    task_id: TaskId, changes: TaskUpdate, viewer: Viewer, db: DatabaseDep, if_match: IF_MATCH = None
) -> Response:
    """Change any of the fields; those left out stay as they are."""
    updated = await db.write(
        task_service.update_task,
        viewer,
        task_id=task_id,
        changes=changes,
        expected=expected_versions(if_match),
    )
    return json_body(updated, headers=etag(updated))


@router.patch("/tasks/{task_id}", response_model=TaskPublic, responses=_CHANGED)
async def patch_task(
    task_id: TaskId, changes: TaskUpdate, viewer: Viewer, db: DatabaseDep, if_match: IF_MATCH = None
) -> Response:
    """The same as PUT: a partial update."""
    return await update_task(task_id, changes, viewer, db, if_match)


@router.patch("/tasks/{task_id}/toggle", response_model=TaskPublic, responses=_CHANGED)
async def toggle_task(
    task_id: TaskId, viewer: Viewer, db: DatabaseDep, if_match: IF_MATCH = None
) -> Response:
    """Flip `completed`."""
    expected = expected_versions(if_match)
    toggled = await db.write(task_service.toggle_task, viewer, task_id=task_id, expected=expected)
    return json_body(toggled, headers=etag(toggled))


@router.delete(
    "/tasks/{task_id}", response_model=Message, responses=errors(400, 401, 404, 412, 429)
)
async def delete_task(
    task_id: TaskId, viewer: Viewer, db: DatabaseDep, if_match: IF_MATCH = None
) -> Message:
    """Move the task to the trash (`/api/trash`)."""
    expected = expected_versions(if_match)
    await db.write(task_service.delete_task, viewer, task_id=task_id, expected=expected)
    return Message(message="Task deleted successfully")


@router.get("/tags", response_model=list[TagCount], responses=errors(401))
async def list_tags(viewer: Viewer, db: DatabaseDep) -> list[TagCount]:
    """The tags your live tasks carry, by name (case-insensitively), with how many carry each."""
    return await db.run(tag_counts, viewer)
