"""Turning pydantic's validation errors into the service's `InvalidInput`, for every door."""

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app.errors import FieldError, InvalidInput

Model = TypeVar("Model", bound=BaseModel)

_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def field_errors(errors: Sequence[Any]) -> list[FieldError]:
    """Pydantic's error list as `(field, message)` pairs; a body that is no JSON is `body`."""
    result = []
    for error in errors:
        location = [str(part) for part in error["loc"] if not isinstance(part, int)]
        if len(location) > 1 and location[0] in _LOCATIONS:
            location = location[1:]
        message = error["msg"]
        if error["type"] == "json_invalid":
            location = ["body"]
            reason = error.get("ctx", {}).get("error", "")
            message = f"is not valid UTF-8 JSON ({reason})" if reason else "is not valid JSON"
        result.append(FieldError(field=".".join(location) or "body", message=message))
    return result


def invalid_input(errors: list[FieldError]) -> InvalidInput:
    summary = "; ".join(f"{error.field}: {error.message}" for error in errors)
    return InvalidInput(f"Invalid input: {summary}", errors)


def invalid_input_body(error: InvalidInput) -> dict[str, Any]:
    """The REST body of a 400: `detail` sums up, `errors` names each field."""
    return {
        "detail": error.message,
        "errors": [{"field": field.field, "message": field.message} for field in error.errors],
    }


def validate(model: type[Model], data: Mapping[str, Any]) -> Model:
    """`model` built from `data`, or `InvalidInput` with the same messages REST gives."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid_input(field_errors(error.errors())) from None
