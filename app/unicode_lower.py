"""`unicode_lower`: full Unicode lower case in SQL, the same on both databases.

SQLite's lower() folds ASCII only and PostgreSQL's follows the database locale (ASCII only under
C.UTF-8), so SQLite gets Python's `str.lower` (registered on each connection by `app.engine`) and
PostgreSQL the ICU root collation; both apply the full Unicode case mapping.
"""

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import functions
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import String


class unicode_lower(functions.GenericFunction[str]):  # noqa: N801 (SQL function name)
    """`unicode_lower(text)`: see the module's docstring."""

    type = String()
    inherit_cache = True


@compiles(unicode_lower, "postgresql")
def _lower_postgresql(element: unicode_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f'lower(({compiler.process(element.clauses, **kw)}) COLLATE "und-x-icu")'
