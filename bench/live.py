"""Live events under load: how late an event reaches a subscriber on another instance while
`rest_create` runs at full load on the first, and how many sockets one worker holds meanwhile.

Instance B (one worker, the service's database) holds 20 sockets (the per-user limit) for each of
WATCHERS users, and one probe's. Its listener receives every write's event (those of `rest_create`
too) and hands each to the sockets of its user. A probe task is created on instance A every
PROBE_INTERVAL during the load; an event's lateness is its arrival at the probe minus its `at`
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

from bench import wrk
from bench.scenarios import account

WATCHERS, SOCKETS_PER_USER = 24, 20
PROBE_INTERVAL = 0.05
EVENTS = "subscription { taskEvents { taskId at } }"
Load = Callable[[], "subprocess.Popen[str]"]


@dataclass
class Result:
    p50_ms: float  # of the probe events that arrived
    p99_ms: float
    events: int  # probe events that arrived
    probes: int  # probe tasks created
    sockets: int  # open on B at the end of the load
    rps: float  # rest_create's on A meanwhile

    def summary(self) -> str:
        return (
            f"live events: {self.events} of {self.probes} probe events arrived, p50 "
            f"{self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms on instance B, while rest_create ran "
            f"{self.rps:.1f} req/s on A; B's one worker held {self.sockets} sockets"
        )


def measure(a_url: str, b_url: str, start_load: Load) -> Result:
    """Probe while `start_load()`'s process (the full load on A) runs."""
    with httpx.Client(base_url=a_url, timeout=60) as client:
        probe = account(client, "probe").bearer
        watchers = [account(client, f"watcher{i}").bearer for i in range(WATCHERS)]
    return asyncio.run(_measure(a_url, b_url.replace("http://", "ws://") + "/graphql",
                                probe, watchers, start_load))  # fmt: skip


async def _socket(url: str, bearer: dict[str, str]) -> ClientConnection:
    socket = await connect(url, subprotocols=[Subprotocol("graphql-transport-ws")])
    init = {"authorization": bearer["Authorization"]}
    await socket.send(json.dumps({"type": "connection_init", "payload": init}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    await socket.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": EVENTS}}))
    return socket


async def _drain(socket: ClientConnection) -> None:
    async for _ in socket:  # a watcher reads what it is sent, as a browser tab would
        pass


async def _measure(
    a_url: str, ws_url: str, probe: dict[str, str], watchers: list[dict[str, str]], load: Load
) -> Result:
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
        process = load()
        while process.poll() is None:
            answer = await client.post("/api/tasks", json={"title": "probe"})
            created.append(answer.json()["id"])
            await asyncio.sleep(PROBE_INTERVAL)
        await asyncio.sleep(1)  # the last events arrive
    held = sum(socket.state.name == "OPEN" for socket in sockets)
    for task in (listener, *drains):
        task.cancel()
    for socket in (probe_socket, *sockets):
        await socket.close()
    arrived = sorted(lateness[task] for task in created if task in lateness)
    late = arrived or [float("nan")]
    p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
    return Result(
        statistics.median(late), p99, len(arrived), len(created), held, wrk.finish(process, 0).rps
    )
