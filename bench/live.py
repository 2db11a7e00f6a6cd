"""Live events under load: how late an event reaches a subscriber on another instance while
`rest_create` runs at full load on the first, and how many sockets one worker holds meanwhile.

Instance B (one worker, the service's database) holds 20 sockets (the per-user limit) for each of
several users, and one probe's. Its listener receives every write's event (those of `rest_create`
too) and hands each to the sockets of its user. A probe task is created on instance A every
`PROBE_INTERVAL` during the load; an event's lateness is its arrival at the probe minus its `at`
(the time the service stamped the write with: same machine, same clock).
"""

import asyncio
import json
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

SOCKETS_PER_USER = 20
PROBE_INTERVAL = 0.05
EVENTS = "subscription { taskEvents { taskId at } }"
PROTOCOLS = [Subprotocol("graphql-transport-ws")]


@dataclass
class LiveResult:
    p50_ms: float
    p99_ms: float
    events: int  # probe events that arrived
    probes: int  # probe tasks created
    sockets: int  # open on B at the end of the load
    load: "subprocess.Popen[str]"  # the finished load, for its numbers


async def _socket(url: str, bearer: dict[str, str]) -> ClientConnection:
    socket = await connect(url, subprotocols=PROTOCOLS)
    init = {"authorization": bearer["Authorization"]}
    await socket.send(json.dumps({"type": "connection_init", "payload": init}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": EVENTS}}))
    return socket


async def _drain(socket: ClientConnection) -> None:
    async for _ in socket:  # a watcher reads what it is sent, as a browser tab would
        pass


async def measure(
    a_url: str,
    b_url: str,
    probe: dict[str, str],
    watchers: list[dict[str, str]],
    start_load: Callable[[], "subprocess.Popen[str]"],
) -> LiveResult:
    """Probe while `start_load()`'s process (the full load on A) runs."""
    ws_url = b_url.replace("http://", "ws://") + "/graphql"
    sockets = [
        await _socket(ws_url, bearer) for bearer in watchers for _ in range(SOCKETS_PER_USER)
    ]
    drains = [asyncio.create_task(_drain(socket)) for socket in sockets]
    probe_socket = await _socket(ws_url, probe)
    lateness: dict[int, float] = {}

    async def listen() -> None:
        async for message in probe_socket:
            event = json.loads(message)["payload"]["data"]["taskEvents"]
            at = datetime.fromisoformat(event["at"]).timestamp()
            lateness[event["taskId"]] = 1000 * (time.time() - at)

    listener = asyncio.create_task(listen())
    created: list[int] = []
    async with httpx.AsyncClient(base_url=a_url, headers=probe, timeout=30) as client:
        await asyncio.sleep(1)  # the subscriptions start (the protocol acknowledges none)
        load = start_load()
        while load.poll() is None:
            answer = await client.post("/api/tasks", json={"title": "probe"})
            created.append(answer.json()["id"])
            await asyncio.sleep(PROBE_INTERVAL)
        await asyncio.sleep(1)  # the last events arrive
    held = sum(socket.state.name == "OPEN" for socket in sockets)
    for task in (listener, *drains):
        task.cancel()
    for socket in (probe_socket, *sockets):
        await socket.close()
    late = sorted(lateness[task] for task in created if task in lateness)
    return LiveResult(
        p50_ms=statistics.median(late) if late else float("nan"),
        p99_ms=late[min(len(late) - 1, int(len(late) * 0.99))] if late else float("nan"),
        events=len(late),
        probes=len(created),
        sockets=held,
        load=load,
    )
