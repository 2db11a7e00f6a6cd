"""What the two fuzzing modules share: the example budget and the app their schemas come from.

Their `target` fixture (the app on the test's database) is in conftest.py."""

from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from app.factory import create_app
from app.settings import Settings
from tests.conftest import TEST_SECRET

FUZZ = settings(
    max_examples=25,
    derandomize=True,  # a fixed seed: the same requests on every run and every machine
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def document_app() -> FastAPI:
    """An app that never connects: the schemas do not depend on the database, so they are loaded
    once, at import, from this app; every request then goes to the test's own app."""
    settings = Settings(
        database_url="sqlite://", jwt_secret=TEST_SECRET, bcrypt_rounds=4, _env_file=None
    )
    return create_app(settings)
