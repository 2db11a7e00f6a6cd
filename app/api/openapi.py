"""The OpenAPI document, made to say what the service does: invalid input is 400, not 422."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from app.api.responses import INVALID_INPUT

VALIDATION_BODY_REF = {"$ref": "#/components/schemas/ValidationErrorBody"}
# The order readers meet the routes in (the contract's), whatever order the app tries them in
# (`app.factory`: the busiest first): documentation tools list the tags' groups in this order.
TAGS = [{"name": name} for name in ("health", "auth", "tasks", "trash")]


def _replace_422(schema: dict[str, Any]) -> None:
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault(
                    "400",
                    {
                        "description": INVALID_INPUT,
                        "content": {"application/json": {"schema": VALIDATION_BODY_REF}},
                    },
                )
    components = schema.get("components", {}).get("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """`model`'s fields as optional OpenAPI query parameters, for a route that reads its query
    string through the model itself instead of declaring each parameter."""
    schema = model.model_json_schema()
    parameters = []
    for name, field in schema["properties"].items():
        description = field.pop("description", None)
        parameter = {"name": name, "in": "query", "required": False, "schema": field}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=TAGS,
            )
            _replace_422(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
