"""The text rules of the contract, written once and used by every door.

Each field type trims Unicode white space, refuses characters no database can store, and checks
its length in characters after trimming, with a message that says what to fix.
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

TITLE_MAX = 200
DESCRIPTION_MAX = 2000
NAME_MAX = 255
EMAIL_MAX = 254
PASSWORD_MIN = 8
PASSWORD_MAX_BYTES = 72  # bcrypt's limit
# A lower-case letter, an upper-case letter, a digit and PASSWORD_MIN characters: the OpenAPI
# pattern of the rule `Password` checks.
PASSWORD_PATTERN = rf"^(?=.*[a-z])(?=.*[A-Z])(?=.*\d).{{{PASSWORD_MIN},}}$"
SEARCH_MAX = 200
TAG_MAX = 40
TAGS_PER_TASK = 20
FILTER_VALUES_MAX = 20  # in one filter's list (tags, priorities): bounds absurd input
SHA256_HEX_LENGTH = 64
TOKEN_MAX = 2048


def storable(value: object) -> object:
    """Refuse NUL and lone surrogates: PostgreSQL cannot store them; drivers crash on them."""
    if isinstance(value, str):
        if "\x00" in value:
            raise PydanticCustomError("nul_character", "must not contain NUL characters")
        if any("\ud800" <= char <= "\udfff" for char in value):
            raise PydanticCustomError(
                "lone_surrogate", "must be valid Unicode (it contains a lone surrogate)"
            )
    return value


# C0 and C1 controls (CR and LF among them) and the bidirectional embeddings, overrides and
# isolates: they inject terminal escapes, forge log lines and reverse file names in a UI. A
# one-line text (a name, a title, a tag name) also refuses the directional marks (they reorder
# it too) and the line and paragraph separators (they break it in two); a description keeps them.
_C0_C1 = "\x00-\x1f\x7f-\x9f"
_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
_DIRECTIONAL_MARKS = "\u200e\u200f\u061c"
_SEPARATORS = "\u2028\u2029"
_CONTROL = re.compile(f"[{_C0_C1}{_BIDI_CONTROLS}{_DIRECTIONAL_MARKS}{_SEPARATORS}]")
_CONTROL_BUT_TAB_AND_NEWLINE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI_CONTROLS}]")


def _code_point(char: str) -> str:
    """`U+200E LEFT-TO-RIGHT MARK`, or just `U+001B` for a character without a name."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X} {name}" if name else f"U+{ord(char):04X}"


def _refused_kind(char: str) -> str:
    if char in _DIRECTIONAL_MARKS:
        return "directional marks"
    if char in _SEPARATORS:
        return "line or paragraph separators"
    return "control characters"


def no_controls(what: str, *, multiline: bool = False) -> AfterValidator:
    """Refuse control characters; a multi-line text keeps tab and newline (LF, not CR), and a
    one-line text refuses the directional marks and the line and paragraph separators too."""
    pattern = _CONTROL_BUT_TAB_AND_NEWLINE if multiline else _CONTROL
    allowed = " other than tab and newline (\\n)" if multiline else ""

    def check(value: str) -> str:
        if found := pattern.search(value):
            char = found.group()
            raise PydanticCustomError(
                "control_character",
                f"{what} must not contain {_refused_kind(char)}{allowed}; "
                f"found {_code_point(char)}",
            )
        return value

    return AfterValidator(check)


# What renders as nothing, or as a blank: white space, format characters (zero-width space,
# joiners, directional marks, ...), combining marks (Mn, Me, Mc: U+0301 COMBINING ACUTE ACCENT,
# U+034F COMBINING GRAPHEME JOINER; with no visible character to combine with they show nothing),
# variation selectors, and the fillers that render as blank. Next to a visible character they
# stay allowed: "e\u0301", "\u2764\ufe0f mum".
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Mc"})
_VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_BLANK_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_SHOWN_AT_MOST = 5  # blank-looking characters named in a message


def _blank_looking(char: str) -> bool:
    return (
        char.isspace()
        or char in _BLANK_FILLERS
        or unicodedata.category(char) in _INVISIBLE_CATEGORIES
        or _VARIATION_SELECTORS.fullmatch(char) is not None
    )


def visible(what: str) -> AfterValidator:
    """A text of only invisible or blank-looking characters is empty: a title, a name or a tag
    name needs one character that shows."""

    def check(value: str) -> str:
        if value and all(_blank_looking(char) for char in value):
            found = list(dict.fromkeys(char for char in value if not char.isspace())) or [value[0]]
            named = ", ".join(_code_point(char) for char in found[:_SHOWN_AT_MOST])
            more = ", ..." if len(found) > _SHOWN_AT_MOST else ""
            raise PydanticCustomError(
                "too_short",
                f"{what} must not be empty: it holds only invisible or blank-looking "
                f"characters (found {named}{more}); write at least one visible character",
            )
        return value

    return AfterValidator(check)


def trimmed(value: object) -> object:
    """`str.strip()` removes all Unicode white space, including no-break spaces."""
    return value.strip() if isinstance(value, str) else value


@dataclass(frozen=True)
class Length:
    """A length in characters (after trimming), checked with a message that names the field and
    published in the JSON schema (`minLength`, `maxLength`) from the same two numbers."""

    low: int
    high: int
    what: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if self.low:
            json_schema["minLength"] = self.low
        json_schema["maxLength"] = self.high
        return json_schema

    def _check(self, value: str) -> str:
        if len(value) < self.low:
            message = (
                f"{self.what} must not be empty"
                if self.low == 1
                else f"{self.what} must be at least {self.low} characters"
            )
            raise PydanticCustomError("too_short", message)
        if len(value) > self.high:
            raise PydanticCustomError(
                "too_long", f"{self.what} must be at most {self.high} characters"
            )
        return value


def _check_password(value: str) -> str:
    if len(value.encode()) > PASSWORD_MAX_BYTES:
        raise PydanticCustomError(
            "password_too_long", f"password must be at most {PASSWORD_MAX_BYTES} bytes in UTF-8"
        )
    return value


def _check_password_strength(value: str) -> str:
    if (
        len(value) < PASSWORD_MIN
        or not any(char.islower() for char in value)
        or not any(char.isupper() for char in value)
        or not any(char.isdigit() for char in value)
    ):
        raise PydanticCustomError(
            "weak_password",
            f"password must be at least {PASSWORD_MIN} characters with an upper-case letter, "
            "a lower-case letter and a digit",
        )
    return value


def normalise_email(value: str) -> str:
    """The one stored form of an address: email-validator's normalisation (the domain
    IDNA-normalised, so fullwidth letters and `xn--bcher-kva.de` meet their usual spellings), then
    all of it lower-cased (email-validator keeps the local part's case). Raises
    `EmailNotValidError` for what is not an address."""
    return validate_email(value, check_deliverability=False).normalized.lower()


def _check_email(value: str) -> str:
    try:
        normalised = normalise_email(value)
    except EmailNotValidError as error:
        raise PydanticCustomError("invalid_email", f"email is not valid: {error}") from None
    if len(normalised) > EMAIL_MAX:
        raise PydanticCustomError("too_long", f"email must be at most {EMAIL_MAX} characters")
    return normalised


def _login_email(value: str) -> str:
    """Signup's normal form, so every spelling of an address finds (and throttles) one account;
    what is no address at all is only lower-cased, and simply matches no account."""
    try:
        return normalise_email(value)
    except EmailNotValidError:
        return value.lower()


Storable = BeforeValidator(storable)
Trimmed = BeforeValidator(trimmed)

Title = Annotated[
    str,
    Length(1, TITLE_MAX, "title"),
    no_controls("title"),
    visible("title"),
    Trimmed,
    Storable,
]
Description = Annotated[
    str,
    Length(0, DESCRIPTION_MAX, "description"),
    no_controls("description", multiline=True),
    Trimmed,
    Storable,
]
Name = Annotated[
    str,
    Length(1, NAME_MAX, "name"),
    no_controls("name"),
    visible("name"),
    Trimmed,
    Storable,
]
Email = Annotated[
    str,
    Length(3, EMAIL_MAX, "email"),
    AfterValidator(_check_email),
    Trimmed,
    Storable,
    Field(json_schema_extra={"format": "email"}),
]
LoginEmail = Annotated[
    str,
    AfterValidator(_login_email),
    Length(1, EMAIL_MAX, "email"),
    Trimmed,
    Storable,
]
NewPassword = Annotated[
    str,
    AfterValidator(_check_password),
    AfterValidator(_check_password_strength),
    Storable,
    Field(json_schema_extra={"minLength": PASSWORD_MIN, "pattern": PASSWORD_PATTERN}),
]
Password = Annotated[
    str,
    Length(1, PASSWORD_MAX_BYTES, "password"),
    AfterValidator(_check_password),
    Storable,
    Field(description=f"At most {PASSWORD_MAX_BYTES} bytes in UTF-8."),
]
TagName = Annotated[
    str,
    Length(1, TAG_MAX, "tag"),
    no_controls("tag"),
    visible("tag"),
    Trimmed,
    Storable,
]


def tag_key(name: str) -> str:
    """What makes two tag names one tag: Unicode case folding (`Work`, `WORK`, `work`)."""
    return name.casefold()


def title_key(title: str) -> str:
    """What the `title` order compares: the title case-folded (Unicode), stored beside it."""
    return title.casefold()


def _distinct_tags(names: list[str]) -> list[str]:
    """Each tag once (the first spelling given), sorted case-insensitively; at most
    TAGS_PER_TASK of them."""
    distinct: dict[str, str] = {}
    for name in names:
        distinct.setdefault(tag_key(name), name)
    if len(distinct) > TAGS_PER_TASK:
        raise PydanticCustomError(
            "too_many_tags", f"a task has at most {TAGS_PER_TASK} distinct tags"
        )
    return [distinct[key] for key in sorted(distinct)]


TAGS_DESCRIPTION = (
    f"Tag names, 1..{TAG_MAX} characters each, compared case-insensitively; at most "
    f"{TAGS_PER_TASK} distinct."
)
Tags = Annotated[
    list[TagName],
    AfterValidator(_distinct_tags),
    Field(
        max_length=10 * TAGS_PER_TASK,  # bounds the work on absurd input, before de-duplication
        description=TAGS_DESCRIPTION,
    ),
]
SearchText = Annotated[
    str,
    Length(0, SEARCH_MAX, "search text"),
    Trimmed,
    Storable,
]
Token = Annotated[
    str,
    Length(1, TOKEN_MAX, "token"),
    Trimmed,
    Storable,
]
