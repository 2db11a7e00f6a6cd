"""Conditional requests on one task (RFC 9110): its `ETag` is its version, `"<version>"`.

`If-Match` (strong comparison) names the versions a write expects; `If-None-Match` (weak
comparison) lets a read answer 304 when the client has the current version already.
"""

import re
from typing import Any

from app.errors import FieldError, InvalidInput

_ENTITY_TAG = re.compile(r'\s*(W/)?"(\d{1,10})"\s*')


def etag(task: dict[str, Any]) -> dict[str, str]:
    """The `ETag` header of an answer that carries `task`."""
    return {"ETag": f'"{task["version"]}"'}


def _entity_tags(header: str, name: str) -> list[tuple[bool, int]]:
    """The `(weak, version)` of each entity tag in a list; 400 on what is not one of ours'
    syntax (a version in quotes, perhaps weak)."""
    found = []
    for part in header.split(","):
        match = _ENTITY_TAG.fullmatch(part)
        if match is None:
            message = 'must be "*" or entity tags such as "3" (the quotes included)'
            raise InvalidInput(f"Invalid {name}", [FieldError(name, message)])
        found.append((match.group(1) is not None, int(match.group(2))))
    return found


def expected_versions(if_match: str | None) -> frozenset[int] | None:
    """The versions `If-Match` allows a write to change; None for any (no header, or `*`).
    A weak entity tag never matches (strong comparison), so only weak ones allow none."""
    if if_match is None or if_match.strip() == "*":
        return None
    return frozenset(version for weak, version in _entity_tags(if_match, "If-Match") if not weak)


def not_modified(if_none_match: str | None, version: int) -> bool:
    """Whether `If-None-Match` names the current `version` (or is `*`: the task exists)."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(found == version for _, found in _entity_tags(if_none_match, "If-None-Match"))
