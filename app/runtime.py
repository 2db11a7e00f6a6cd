"""The long-lived parts of one running service, built once from the settings and injected."""

from dataclasses import dataclass

from opentelemetry.trace import Tracer

from app.authentication import Authenticator
from app.broker import Broker
from app.database import Database
from app.engine import create_db_engine
from app.metrics import Metrics
from app.security import PasswordHasher
from app.settings import Settings
from app.throttle import Throttles


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    hasher: PasswordHasher
    throttles: Throttles
    broker: Broker
    authenticator: Authenticator
    metrics: Metrics
    tracer: Tracer | None = None  # `app.tracing`

    @classmethod
    def from_settings(cls, settings: Settings, tracer: Tracer | None = None) -> "Runtime":
        metrics = Metrics()
        broker = Broker(settings.graphql_max_sockets_per_user, metrics)
        throttles = Throttles(settings)
        db = Database(
            create_db_engine(settings, autocommit=True),
            timeout=settings.db_timeout,
            threads=settings.database_threads,
            metrics=metrics,
            tracer=tracer,
            # SQLite's events, from this process's own writes; PostgreSQL's: `app.listener`.
            after_commit=broker.publish if settings.is_sqlite else None,
            writes=throttles.writes_by_user,
        )
        return cls(
            settings=settings,
            db=db,
            hasher=PasswordHasher(settings.bcrypt_rounds, settings.max_concurrent_hashes, metrics),
            throttles=throttles,
            broker=broker,
            authenticator=Authenticator(settings, db, metrics),
            metrics=metrics,
            tracer=tracer,
        )
