"""Every setting of the service, in one typed object read from the environment and `.env`."""

import os
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models.identity import ISSUER_MAX

MIN_SECRET_LENGTH = 32
LOOPBACK = ("localhost", "127.0.0.1", "::1")
MIN_SECRET_DISTINCT_CHARACTERS = 10  # in production: 32 times `a` is long, not secret
# Values copied from a tutorial or a template: `your-secret-key-change-in-production`,
# `changeme...`, `secret...`, `supersecret...`.
PLACEHOLDER_SECRET = re.compile(
    r"^(your[-_ ]?secret|change[-_ ]?me|super[-_ ]?secret|secret)|change[-_ ]?in[-_ ]?prod",
    re.IGNORECASE,
)
# The project's own files: a secret found in them is published with the code.
PROJECT_FILES = tuple(
    Path(__file__).resolve().parent.parent / name
    for name in (".env.example", "README.md", "docs/operations.md", "docs/rest.md")
)


def guessable_secret(secret: str) -> str | None:
    """Why `secret` is no secret in production, or None."""
    if len(set(secret)) < MIN_SECRET_DISTINCT_CHARACTERS:
        return f"fewer than {MIN_SECRET_DISTINCT_CHARACTERS} distinct characters"
    if PLACEHOLDER_SECRET.search(secret):
        return "a well-known placeholder"
    for path in PROJECT_FILES:
        if path.is_file() and secret in path.read_text(errors="replace"):
            return f"it is written in {path.name}"
    return None


def load_or_create_dev_secret(path: Path) -> str:
    """Read the development signing key from `path`, creating it on first use.

    Persisting the key keeps tokens valid across restarts and shared between workers on one host.
    `O_EXCL` makes the first writer win when several workers start at once; the others read its key.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        secret = secrets.token_urlsafe(48)
        file.write(secret)
    return secret


@dataclass(frozen=True)
class BetterAuthSettings:
    """Where a Better Auth server and its keys are, and what its tokens must say."""

    url: str
    jwks_url: str
    issuer: str
    audience: str
    max_token_seconds: int


class Settings(BaseSettings):
    # hide_input_in_errors: a refused JWT_SECRET must not be printed in the start-up error.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    environment: Literal["development", "test", "production"] = Field(
        "development",
        description="`development`, `test` or `production`: production refuses a weak "
        "`JWT_SECRET`, suggests no field names, and turns the API documentation, GraphiQL and "
        "introspection off unless asked for.",
    )

    database_url: str = Field(
        "sqlite:///./todo.db",
        description="SQLite or PostgreSQL; `postgresql://` is mapped to the psycopg2 driver.",
    )
    listener_database_url: str | None = Field(
        None,
        description="PostgreSQL for the event listener's `LISTEN`, when `DATABASE_URL` goes "
        "through a pooler in transaction mode (PgBouncer), where `LISTEN` does not hold. "
        "Default: `DATABASE_URL`.",
    )
    pool_size: int = Field(
        10, ge=1, description="PostgreSQL connections per worker; also the units run at once."
    )
    pool_pre_ping: bool = Field(
        False, description="Test each connection with a round trip before use (off: see database)."
    )
    pool_timeout: float = Field(5.0, gt=0, description="Seconds to wait for a free connection.")
    pool_recycle: int = Field(1800, description="Seconds before a pooled connection is replaced.")
    db_connect_timeout: int = Field(
        5, ge=1, description="Seconds to wait for PostgreSQL to accept a connection."
    )
    db_timeout: float = Field(
        5.0, gt=0, description="Seconds a unit of database work may take before a 503."
    )

    jwt_secret: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("JWT_SECRET", "BETTER_AUTH_SECRET", "jwt_secret"),
        description=f"HS256 signing key, at least {MIN_SECRET_LENGTH} characters; required in "
        "production. Default: generated outside production, kept in `DEV_SECRET_FILE`.",
    )
    dev_secret_file: Path = Field(
        Path(".jwt-secret"),
        description="Where the signing key generated outside production is kept.",
    )
    access_token_minutes: int = Field(15, ge=1, description="Access token lifetime, in minutes.")
    refresh_token_days: int = Field(7, ge=1, description="Refresh token lifetime, in days.")
    refresh_reuse_grace_seconds: int = Field(
        10, ge=0, description="A just-rotated refresh token answers its successor this long."
    )
    trash_retention_days: int = Field(
        30, ge=1, description="Trashed tasks are purged for good after this many days."
    )
    trash_purge_interval_seconds: float = Field(
        3600, gt=0, description="How often each worker purges what the retention has passed."
    )
    bcrypt_rounds: int = Field(
        12,
        ge=4,
        le=31,
        description="bcrypt cost: each step doubles a hash's time (tests use the least).",
    )
    max_concurrent_hashes: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="bcrypt hashes run at once per worker; more only queue up behind the CPU. "
        "Default: the CPU count.",
    )

    login_max_failures: int = Field(5, ge=1, description="Failed logins per email per window.")
    login_window_seconds: int = Field(
        900, ge=1, description="The window of both login limits, in seconds."
    )
    login_max_failures_per_address: int = Field(
        50, ge=1, description="Failed logins per client address, across emails, per window."
    )
    signup_max_per_address: int = Field(
        10, ge=1, description="Signups per client address per window."
    )
    signup_window_seconds: int = Field(
        3600, ge=1, description="The window of the signup limit, in seconds."
    )
    max_password_checks_per_request: int = Field(
        1, ge=1, description="Signups and logins one HTTP request may run (aliases, batches)."
    )
    user_writes_per_minute: int = Field(
        600, ge=0, description="Task writes a user may make a minute, across doors; 0: no limit."
    )
    rate_limit_storage_url: str = Field(
        "memory://", description="`limits` storage URI; use redis://... for several workers."
    )

    cors_origins: Annotated[list[str], NoDecode] = Field(
        ["http://localhost:3000"],
        description="Allowed origins, comma-separated: CORS, and where a GraphQL socket may "
        "come from.",
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Larger request bodies get 413, announced or not."
    )
    request_body_timeout: float = Field(
        15.0, gt=0, description="Seconds a request body may take to arrive, then 408."
    )

    graphql_max_depth: int = Field(
        10, ge=1, description="Depth of a GraphQL document, introspection fields not counted."
    )
    graphql_max_aliases: int = Field(
        30, ge=1, description="Aliased fields written in one GraphQL document."
    )
    graphql_max_tokens: int = Field(
        2000, ge=10, description="Tokens in one GraphQL document, counted as it is parsed."
    )
    graphql_max_batch: int = Field(
        10, ge=1, description="Operations in one batched GraphQL request."
    )
    graphql_max_cost: int = Field(
        5000, ge=1, description="Objects one request may ask for, counted before it runs."
    )
    graphql_max_mutations: int = Field(
        20, ge=1, description="Mutation fields in one request, aliases and batch together."
    )
    graphql_max_sockets_per_user: int = Field(
        20, ge=1, description="Live GraphQL sockets one user may hold open on one instance."
    )
    graphql_introspection: bool | None = Field(
        None, description="Schema introspection. Default: off in production."
    )
    graphql_ide: bool | None = Field(
        None, description="GraphiQL at `GET /graphql`. Default: off in production."
    )
    graphql_persisted_queries_max: int = Field(
        10_000, ge=1, description="Automatic persisted queries kept; past it the oldest go."
    )
    graphql_trusted_documents: Path | None = Field(
        None, description="An Apollo persisted-query manifest (JSON): documents always known."
    )
    graphql_trusted_only: bool = Field(
        False, description="Run only the trusted documents, sent by hash or in full."
    )
    api_docs: bool | None = Field(
        None, description="/docs, /redoc and /openapi.json. Default: off in production."
    )
    telemetry: bool = Field(
        False,
        description="FastAPI's OpenTelemetry spans, metrics and logs, to the providers the "
        "deployment configures. Off, it costs nothing; on, every request looks for a provider.",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        None,
        description="OpenTelemetry's own: where traces go (OTLP over HTTP), with the extra "
        "`.[otel]` installed. Unset: no traces, at no cost.",
    )
    observe_requests: bool = Field(
        True,
        description="Request ids (`X-Request-ID`), one access log line per request, and the "
        "request and GraphQL metrics.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="The bearer token `/metrics` asks for. Unset: `/metrics` answers 404, but in "
        "development, where it is open.",
    )
    log_format: Literal["text", "json"] | None = Field(
        None,
        description="`text` or `json` (one object per line). Default: text in development, JSON "
        "elsewhere.",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1,::1",
        description="The proxies trusted to name the client (`X-Forwarded-For`, "
        "`X-Forwarded-Proto`) and the request (`X-Request-ID`): addresses, networks, or `*`. "
        "uvicorn reads the same variable.",
    )

    better_auth_url: str | None = Field(
        None,
        description="The Better Auth server's base URL (its `baseURL`): its tokens are accepted "
        "beside the service's own. Unset: they are not.",
    )
    better_auth_jwks_url: str | None = Field(
        None, description="Its public keys. Default: `<BETTER_AUTH_URL>/api/auth/jwks`."
    )
    better_auth_issuer: str | None = Field(
        None,
        max_length=ISSUER_MAX,
        description="The `iss` its tokens carry. Default: `BETTER_AUTH_URL` without a trailing /.",
    )
    better_auth_audience: str | None = Field(
        None, description="The `aud` its tokens carry. Default: as the issuer."
    )
    better_auth_max_token_seconds: int = Field(
        3600, ge=1, description="The longest a Better Auth token may live (`exp - iat`)."
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("database_url", "listener_database_url")
    @classmethod
    def use_psycopg2(cls, url: str | None) -> str | None:
        """SQLAlchemy 2.1 maps a bare postgresql:// URL to psycopg 3; our driver is psycopg2."""
        if url is None:
            return None
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg2://" + url.removeprefix(prefix)
        return url

    @model_validator(mode="after")
    def require_trusted_documents(self) -> Self:
        if self.graphql_trusted_only and self.graphql_trusted_documents is None:
            raise ValueError(
                "GRAPHQL_TRUSTED_ONLY needs GRAPHQL_TRUSTED_DOCUMENTS, the manifest to trust"
            )
        return self

    @model_validator(mode="after")
    def require_https_for_better_auth(self) -> Self:
        """Outside development machines, only `https://` for the URLs that keys are fetched
        from and tokens name."""
        if (server := self.better_auth) is None:
            return self
        for name, value in (
            ("BETTER_AUTH_URL", server.url),
            ("BETTER_AUTH_JWKS_URL", server.jwks_url),
        ):
            url = urlsplit(value)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError(f"{name} must be an http:// or https:// URL")
            if self.is_production and url.scheme != "https" and url.hostname not in LOOPBACK:
                raise ValueError(
                    f"{name} must be https:// in production (plain http:// only to "
                    "localhost, 127.0.0.1 or ::1): keys fetched in the clear can be replaced"
                )
        return self

    @model_validator(mode="after")
    def require_signing_key(self) -> Self:
        if self.jwt_secret is None:
            if self.is_production:
                raise ValueError(
                    "JWT_SECRET must be set in production (at least 32 random characters)"
                )
            self.jwt_secret = SecretStr(load_or_create_dev_secret(self.dev_secret_file))
        secret = self.jwt_secret.get_secret_value()
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters long")
        if self.is_production and (why := guessable_secret(secret)):
            raise ValueError(
                f"JWT_SECRET is trivially guessable ({why}); use a random one, such as the "
                "output of `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def better_auth(self) -> "BetterAuthSettings | None":
        """The Better Auth server whose tokens are accepted, or None; what is not set follows
        from `BETTER_AUTH_URL`."""
        if self.better_auth_url is None:
            return None
        base = self.better_auth_url.rstrip("/")
        issuer = self.better_auth_issuer or base
        return BetterAuthSettings(
            url=self.better_auth_url,
            jwks_url=self.better_auth_jwks_url or f"{base}/api/auth/jwks",
            issuer=issuer,
            audience=self.better_auth_audience or issuer,
            max_token_seconds=self.better_auth_max_token_seconds,
        )

    @property
    def logs_as(self) -> Literal["text", "json"]:
        if self.log_format is not None:
            return self.log_format
        return "text" if self.environment == "development" else "json"

    @property
    def listener_url(self) -> str:
        """Where the event listener connects: a session of its own, past any pooler."""
        return self.listener_database_url or self.database_url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def database_threads(self) -> int:
        """Units of database work at once: one per pooled connection on PostgreSQL. SQLite opens
        a connection per thread and serialises writes itself, so anyio's default (40) is kept."""
        return 40 if self.is_sqlite else self.pool_size

    @property
    def signing_key(self) -> str:
        assert self.jwt_secret is not None  # guaranteed by require_signing_key
        return self.jwt_secret.get_secret_value()

    @property
    def introspection_enabled(self) -> bool:
        return (
            self.graphql_introspection
            if self.graphql_introspection is not None
            else (not self.is_production)
        )

    @property
    def api_docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else not self.is_production

    @property
    def graphql_ide_enabled(self) -> bool:
        return self.graphql_ide if self.graphql_ide is not None else not self.is_production


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once; tests build their own `Settings` instead."""
    return Settings()
