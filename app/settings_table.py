"""The README's table of settings, rendered from `Settings` so the two cannot drift.

`python -m app.settings_table` (`make settings-table`) rewrites the table between the README's
markers; tests/test_docs.py fails when the README's table is not the rendered one.
"""

import re
import sys
from enum import Enum
from pathlib import Path, PurePath

from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo

from app.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- settings:begin -->"
END = "<!-- settings:end -->"
# A computed default (a factory, or None meaning "decided from another setting") is written at the
# end of the field's description, as "Default: <what it is>."; it goes in the default column.
_STATED_DEFAULT = re.compile(r"\s*Default: (?P<default>[^.]+)\.?$")


def environment_names(name: str, field: FieldInfo) -> list[str]:
    """The variables a field is read from, as the environment spells them."""
    alias = field.validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias or name]
    prefix = str(Settings.model_config.get("env_prefix", ""))
    names = [(prefix + choice).upper() for choice in choices if isinstance(choice, str)]
    return list(dict.fromkeys(names))


def _written(value: object) -> str:
    """A default as it would be written in the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ",".join(_written(item) for item in value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, PurePath | SecretStr | str | int | float):
        return str(value)
    raise TypeError(f"no way to write a default of type {type(value).__name__}")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def row(name: str, field: FieldInfo) -> str:
    """One line of the table: the variables, the default, the meaning."""
    if not field.description:
        raise ValueError(f"Settings.{name} has no description: give it `description=`")
    meaning = field.description
    if stated := _STATED_DEFAULT.search(meaning):
        default = stated["default"]
        meaning = meaning[: stated.start()]
    elif field.default_factory is not None:
        raise ValueError(
            f"Settings.{name} computes its default: end its description with 'Default: ...'"
        )
    elif field.default is None:
        default = "none"
    else:
        default = f"`{_written(field.default)}`"
    first, *others = (f"`{variable}`" for variable in environment_names(name, field))
    variables = f"{first} (or {', '.join(others)})" if others else first
    return f"| {variables} | {_cell(default)} | {_cell(meaning)} |"


def render_table() -> str:
    """The Markdown table of every setting, in the order `Settings` declares them."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [row(name, field) for name, field in Settings.model_fields.items()]
    return "\n".join(lines)


def with_table(text: str) -> str:
    """`text` (the README) with the rendered table between its markers."""
    begin, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return f"{text[:begin]}\n{render_table()}\n{text[end:]}"


def table_in(text: str) -> str:
    """The table between the markers of `text`, as written."""
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip("\n")


def main() -> None:
    README.write_text(with_table(README.read_text()))
    print(f"rewrote the settings table of {README}", file=sys.stderr)


if __name__ == "__main__":
    main()
