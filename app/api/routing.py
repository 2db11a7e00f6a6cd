"""The route class of the REST door: request bodies are decoded by orjson.

orjson refuses invalid UTF-8, lone surrogate escapes and nesting deeper than 1024 levels with a
`JSONDecodeError`, which FastAPI reports as a 400 naming the body. The standard library's decoder
would raise `RecursionError` or `UnicodeDecodeError` instead, answered as a bare 400 or a 500.
"""

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute


class OrjsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


class OrjsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def decode_with_orjson(request: Request) -> Response:
            return await handler(OrjsonRequest(request.scope, request.receive))

        return decode_with_orjson
