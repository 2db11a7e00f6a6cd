"""A `graphql-transport-ws` client for real servers (on `websockets`, as uvicorn serves them)."""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

EVENTS = "subscription { taskEvents { kind taskId version at } }"
PROTOCOLS = [Subprotocol("graphql-transport-ws")]


class LiveSocket:
    """An authenticated socket with one `taskEvents` subscription (id "events")."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    def next_event(self, timeout: float = 10.0) -> dict[str, Any]:
        message = json.loads(self.connection.recv(timeout=timeout))
        assert message["type"] == "next", message
        return message["payload"]["data"]["taskEvents"]

    def close_code(self, timeout: float = 10.0) -> int | None:
        """The code the server closes with, reading past any messages it still sends."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.connection.recv(timeout=max(deadline - time.monotonic(), 0.01))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    def wait_until_live(self, write: Callable[[], int]) -> None:
        """Return once events flow: the protocol acknowledges no subscribe, so `write` (which
        answers the id of the task it wrote) runs until the event of its latest write arrives."""
        deadline = time.monotonic() + 15
        while True:
            latest = write()
            try:
                while self.next_event(timeout=0.5)["taskId"] != latest:
                    pass
                return
            except TimeoutError:
                assert time.monotonic() < deadline, "the subscription never started"


def init_close_code(base_url: str, access_token: str) -> int | None:
    """The code a server closes a socket with that sent `connection_init` with `access_token`
    (None if it acknowledged instead)."""
    with connect(_ws_url(base_url), subprotocols=PROTOCOLS, open_timeout=10) as ws:
        init = {"authorization": f"Bearer {access_token}"}
        ws.send(json.dumps({"type": "connection_init", "payload": init}))
        try:
            ws.recv(timeout=30)  # the acknowledgement
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        return None


def _ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/graphql"


@contextmanager
def live_socket(base_url: str, access_token: str, query: str = EVENTS) -> Iterator[LiveSocket]:
    with connect(_ws_url(base_url), subprotocols=PROTOCOLS, open_timeout=10) as connection:
        init = {"authorization": f"Bearer {access_token}"}
        connection.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(connection.recv(timeout=10)) == {"type": "connection_ack"}
        subscribe = {"type": "subscribe", "id": "events", "payload": {"query": query}}
        connection.send(json.dumps(subscribe))
        yield LiveSocket(connection)
