"""Mutation resolvers: each reads like its line in the contract and calls the services."""

import uuid

from strawberry.types import Info

from app.services import accounts, tokens
from app.services import sessions as session_service
from app.services import tasks as task_service
from app.validation import validate
from models.identity import IdentityLink
from models.session import AccountDeletion, PasswordChange
from models.task import TaskCreate, TaskUpdate
from models.user import LoginRequest, RefreshRequest, SignupRequest
from resolvers.context import Context
from schema.inputs import (
    ChangePasswordInput,
    CreateTaskInput,
    LoginInput,
    SignupInput,
    UpdateTaskInput,
    provided,
)
from schema.types import AuthPayload, TaskType, TokenPair, UserType

ContextInfo = Info[Context, None]


def _expected(version: int | None) -> frozenset[int] | None:
    return None if version is None else frozenset({version})


async def signup(info: ContextInfo, input: SignupInput) -> AuthPayload:
    """Create an account and log it in."""
    context = info.context
    data = validate(SignupRequest, vars(input))
    result = await accounts.signup_and_login(
        runtime=context.runtime, client=context.client, data=data
    )
    return AuthPayload.from_result(result)


async def login(info: ContextInfo, input: LoginInput) -> AuthPayload:
    context = info.context
    credentials = validate(LoginRequest, vars(input))
    result = await accounts.login(
        runtime=context.runtime, client=context.client, credentials=credentials
    )
    return AuthPayload.from_result(result)


async def refresh_token(info: ContextInfo, refresh_token: str) -> TokenPair:
    body = validate(RefreshRequest, {"refresh_token": refresh_token})
    issued = await tokens.refresh(runtime=info.context.runtime, refresh_token=body.refresh_token)
    return TokenPair.from_model(issued)


async def logout(info: ContextInfo, refresh_token: str) -> bool:
    viewer = await info.context.viewer()
    body = validate(RefreshRequest, {"refresh_token": refresh_token})
    await tokens.logout(
        runtime=info.context.runtime,
        viewer=viewer,
        refresh_token=body.refresh_token,
    )
    return True


async def revoke_session(info: ContextInfo, id: uuid.UUID) -> bool:
    viewer = await info.context.viewer()
    await info.context.db.run(session_service.end_session, viewer, session_id=id)
    return True


async def change_password(info: ContextInfo, input: ChangePasswordInput) -> bool:
    """Every other session ends; this one goes on."""
    context, viewer = info.context, await info.context.viewer()
    change = validate(PasswordChange, vars(input))
    await accounts.change_password(
        runtime=context.runtime, client=context.client, viewer=viewer, change=change
    )
    return True


async def delete_account(info: ContextInfo, password: str) -> bool:
    context, viewer = info.context, await info.context.viewer()
    body = validate(AccountDeletion, {"password": password})
    await accounts.delete_account(
        runtime=context.runtime, client=context.client, viewer=viewer, password=body.password
    )
    return True


async def link_identity(info: ContextInfo, token: str) -> UserType:
    """Give a Better Auth sign-in (its token) to the caller's account."""
    context, viewer = info.context, await info.context.viewer()
    body = validate(IdentityLink, {"token": token})
    user = await accounts.link_identity(runtime=context.runtime, viewer=viewer, token=body.token)
    return UserType.from_model(user)


async def create_task(info: ContextInfo, input: CreateTaskInput) -> TaskType:
    user, viewer = await info.context.user(), await info.context.viewer()
    data = validate(TaskCreate, vars(input))
    created = await info.context.db.write(task_service.create_task, viewer, data=data)
    return TaskType.from_row(created, UserType.from_model(user))


async def update_task(
    info: ContextInfo, id: int, input: UpdateTaskInput, expected_version: int | None = None
) -> TaskType:
    user, viewer = await info.context.user(), await info.context.viewer()
    changes = validate(TaskUpdate, provided(input))
    updated = await info.context.db.write(
        task_service.update_task,
        viewer,
        task_id=id,
        changes=changes,
        expected=_expected(expected_version),
    )
    return TaskType.from_row(updated, UserType.from_model(user))


async def toggle_task(info: ContextInfo, id: int, expected_version: int | None = None) -> TaskType:
    user, viewer = await info.context.user(), await info.context.viewer()
    toggled = await info.context.db.write(
        task_service.toggle_task,
        viewer,
        task_id=id,
        expected=_expected(expected_version),
    )
    return TaskType.from_row(toggled, UserType.from_model(user))


async def delete_task(info: ContextInfo, id: int, expected_version: int | None = None) -> bool:
    """Move the task to the trash."""
    viewer = await info.context.viewer()
    await info.context.db.write(
        task_service.delete_task,
        viewer,
        task_id=id,
        expected=_expected(expected_version),
    )
    return True


async def restore_task(info: ContextInfo, id: int) -> TaskType:
    user, viewer = await info.context.user(), await info.context.viewer()
    restored = await info.context.db.write(task_service.restore_task, viewer, task_id=id)
    return TaskType.from_row(restored, UserType.from_model(user))


async def purge_task(info: ContextInfo, id: int) -> bool:
    viewer = await info.context.viewer()
    await info.context.db.write(task_service.purge_task, viewer, task_id=id)
    return True


async def empty_trash(info: ContextInfo) -> int:
    viewer = await info.context.viewer()
    return await info.context.db.write(task_service.empty_trash, viewer)
