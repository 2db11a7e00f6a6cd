"""Settings and the pure security functions."""

import stat
from pathlib import Path

import bcrypt
import pytest
from pydantic import ValidationError

from app.security import dummy_hash, hash_password, verify_password
from app.settings import Settings

LONG_SECRET = "settings-test-secret-0123456789-abc"


def test_bcrypt_cost_is_12_by_default(tmp_path: Path) -> None:
    settings = Settings(jwt_secret=LONG_SECRET, _env_file=None)
    assert settings.bcrypt_rounds == 12
    assert hash_password("Pw1-long-enough", settings.bcrypt_rounds).startswith("$2b$12$")


def test_dummy_hash_has_the_configured_cost() -> None:
    assert dummy_hash(5).startswith("$2b$05$")


def test_verify_refuses_passwords_over_72_bytes_without_raising() -> None:
    stored = hash_password("x" * 72, 4)
    assert verify_password("x" * 72, stored) is True
    assert verify_password("x" * 73, stored) is False  # bcrypt 5 itself raises ValueError here
    with pytest.raises(ValueError, match="72"):
        bcrypt.checkpw(b"x" * 73, stored.encode())


def test_production_refuses_to_start_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.delenv("BETTER_AUTH_SECRET", raising=False)
    with pytest.raises(ValidationError, match="JWT_SECRET must be set in production"):
        Settings(environment="production", _env_file=None)


@pytest.mark.parametrize("environment", ["production", "development"])
def test_a_secret_shorter_than_32_characters_is_refused(environment: str) -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(environment=environment, jwt_secret="short", _env_file=None)


def test_better_auth_secret_is_accepted_as_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.setenv("BETTER_AUTH_SECRET", "better-auth-secret-0123456789-abcdef")
    settings = Settings(environment="production", _env_file=None)
    assert settings.signing_key == "better-auth-secret-0123456789-abcdef"


def test_development_secret_is_generated_once_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.delenv("BETTER_AUTH_SECRET", raising=False)
    path = tmp_path / "secret"
    first = Settings(dev_secret_file=path, _env_file=None)
    second = Settings(dev_secret_file=path, _env_file=None)
    assert first.signing_key == second.signing_key
    assert len(first.signing_key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db"])
def test_postgres_urls_use_psycopg2(url: str) -> None:
    settings = Settings(database_url=url, jwt_secret=LONG_SECRET, _env_file=None)
    assert settings.database_url == "postgresql+psycopg2://u@h/db"


def test_the_listener_connects_where_the_pool_does_unless_told_otherwise() -> None:
    settings = Settings(
        database_url="postgresql://u@pool/db", jwt_secret=LONG_SECRET, _env_file=None
    )
    assert settings.listener_url == "postgresql+psycopg2://u@pool/db"


def test_the_listener_may_bypass_a_pooler_in_transaction_mode() -> None:
    settings = Settings(
        database_url="postgresql://u@pgbouncer:6432/db",
        listener_database_url="postgres://u@postgres:5432/db",
        jwt_secret=LONG_SECRET,
        _env_file=None,
    )
    assert settings.listener_url == "postgresql+psycopg2://u@postgres:5432/db"


def test_cors_origins_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "http://a.test, http://b.test")
    settings = Settings(jwt_secret=LONG_SECRET, _env_file=None)
    assert settings.cors_origins == ["http://a.test", "http://b.test"]


def test_graphql_introspection_and_ide_are_off_in_production() -> None:
    settings = Settings(environment="production", jwt_secret=LONG_SECRET, _env_file=None)
    assert not settings.introspection_enabled
    assert not settings.graphql_ide_enabled


SECRET = "Xq7-vR2pLm9sK4tW8yB1nC6dF3gH5jZ0"


def _with_better_auth(environment: str = "production", **values: str) -> Settings:
    return Settings.model_validate({"environment": environment, "jwt_secret": SECRET, **values})


def test_better_auth_settings_default_from_its_url() -> None:
    server = _with_better_auth(better_auth_url="https://auth.example.com/").better_auth
    assert server is not None
    assert server.jwks_url == "https://auth.example.com/api/auth/jwks"
    assert server.issuer == server.audience == "https://auth.example.com"
    assert server.max_token_seconds == 3600


def test_better_auth_is_off_without_its_url() -> None:
    assert _with_better_auth().better_auth is None


@pytest.mark.parametrize(
    "values",
    [
        {"better_auth_url": "http://auth.example.com"},
        {"better_auth_url": "https://auth.example.com", "better_auth_jwks_url": "http://k.example"},
    ],
)
def test_production_refuses_a_better_auth_url_that_is_not_https(values: dict[str, str]) -> None:
    name = "BETTER_AUTH_JWKS_URL" if "better_auth_jwks_url" in values else "BETTER_AUTH_URL"
    with pytest.raises(ValidationError, match=f"{name} must be https://"):
        _with_better_auth(**values)


@pytest.mark.parametrize("host", ["localhost:3000", "127.0.0.1:3000", "[::1]:3000"])
def test_production_accepts_plain_http_to_a_loopback_better_auth(host: str) -> None:
    server = _with_better_auth(better_auth_url=f"http://{host}").better_auth
    assert server is not None
    assert server.jwks_url == f"http://{host}/api/auth/jwks"


def test_development_accepts_plain_http_to_any_better_auth_host() -> None:
    settings = _with_better_auth("development", better_auth_url="http://auth.internal")
    assert settings.better_auth is not None


def test_a_better_auth_url_that_is_no_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="BETTER_AUTH_URL must be an http"):
        _with_better_auth("development", better_auth_url="auth.example.com")
