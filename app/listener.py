"""The instance's one listening connection on PostgreSQL: `NOTIFY`s in, `Broker.deliver` out.

psycopg2 already speaks asynchronously enough for this: a connection in autocommit that ran
`LISTEN` needs only `poll()` when its socket is readable, which the event loop's `add_reader`
tells. So the listener costs no thread and no other library (asyncpg would be a second driver for
one statement). The connection is its own, outside the pool: it holds a `LISTEN` for the process's
life.

When the connection is lost (PostgreSQL restarted, the network went away), the listener says so in
the log and reconnects, backing off up to `MAX_BACKOFF` seconds. Events committed meanwhile are
lost: once it is back, it closes every socket of the instance (1012, "service restart"), and the
clients reconnect and refetch (docs/graphql.md says so).
"""

import asyncio
import logging
from typing import Any

import psycopg2
import psycopg2.extensions
from anyio import to_thread
from sqlalchemy import Engine, make_url

from app.broker import Broker
from app.events import CHANNEL

logger = logging.getLogger(__name__)

MAX_BACKOFF = 5.0
# Without traffic, a dead peer is noticed by TCP keepalives (seconds: idle, interval, count).
OPTIONS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


class ConnectionLost(Exception):
    pass


async def listen(engine: Engine, broker: Broker, url: str | None = None) -> None:
    """Forward the events of `url` (default: the engine's database) to `broker` until
    cancelled. Behind a pooler in transaction mode, `url` names PostgreSQL itself."""
    backoff = 0.1
    lost = False
    while True:
        try:
            connection = await _connected(engine, url)
        except psycopg2.Error as error:
            logger.warning("event listener cannot connect (retrying): %s", str(error).strip())
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
            continue
        if lost:
            logger.warning(
                "event listener reconnected; closing sockets that may have missed events"
            )
            broker.close_all(1012, "Events may have been missed: reconnect and refetch")
        backoff = 0.1
        try:
            await _forward(connection, broker)
        except ConnectionLost as error:
            logger.warning("event listener lost its connection (reconnecting): %s", error)
        except Exception:  # the listener must outlive any one failure, as the process does
            logger.exception("event listener failed (reconnecting)")
            await asyncio.sleep(backoff)
        finally:
            lost = True
            connection.close()


async def _connected(engine: Engine, url: str | None) -> psycopg2.extensions.connection:
    """`_connect` in a worker thread. Cancelled meanwhile (the app shutting down), the thread
    still finishes, and the connection it made is closed here rather than left to the garbage
    collector (which, after the lifespan's `gc.freeze()`, would never close it)."""
    made: list[psycopg2.extensions.connection] = []
    try:
        await to_thread.run_sync(lambda: made.append(_connect(engine, url)))
    except BaseException:
        for connection in made:
            connection.close()
        raise
    return made[0]


def _connect(engine: Engine, url: str | None) -> psycopg2.extensions.connection:
    """A connection of its own, to `url` or the engine's database, listening on `CHANNEL`."""
    target = make_url(url) if url else engine.url
    _, options = engine.dialect.create_connect_args(target)  # psycopg2's: all by keyword
    parameters: dict[str, Any] = {**options, **OPTIONS}
    connection: psycopg2.extensions.connection = psycopg2.connect(**parameters)
    connection.set_session(autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute(f"LISTEN {CHANNEL}")  # a fixed identifier: no value to bind
    return connection


async def _forward(connection: psycopg2.extensions.connection, broker: Broker) -> None:
    """Publish each notification as it comes, until the connection fails."""
    loop = asyncio.get_running_loop()
    failed: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        try:
            connection.poll()
        except psycopg2.Error as error:
            if not failed.done():
                failed.set_exception(ConnectionLost(str(error).strip()))
            return
        payloads = [notify.payload for notify in connection.notifies]
        connection.notifies.clear()
        broker.deliver(payloads)  # already on the loop

    socket = connection.fileno()  # asked now: a closed connection no longer answers it
    loop.add_reader(socket, readable)
    try:
        await failed
    finally:
        loop.remove_reader(socket)
