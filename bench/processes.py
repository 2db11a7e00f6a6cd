"""Child processes of the benchmark (servers, wrk), each in its own process group, all stopped at
the end however the benchmark ends."""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

import httpx

HOST = "127.0.0.1"
PORTS = range(8100, 8200)


class Children:
    """Every process started here; `stop_all` ends each one's process group, gently then firmly."""

    def __init__(self) -> None:
        self._processes: list[subprocess.Popen[str]] = []

    def spawn(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log: Path,
    ) -> "subprocess.Popen[str]":
        with log.open("w") as log_file:
            process = subprocess.Popen(
                list(command),
                env=dict(env),
                cwd=cwd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # its own group: workers of `--workers N` go with it
            )
        self._processes.append(process)
        return process

    def adopt(self, process: "subprocess.Popen[str]") -> "subprocess.Popen[str]":
        self._processes.append(process)
        return process

    def stop(self, process: "subprocess.Popen[str]") -> None:
        _stop_group(process)
        if process in self._processes:
            self._processes.remove(process)

    def groups(self) -> list[int]:
        """The process groups of the children still running (each child leads its own)."""
        return [process.pid for process in self._processes if process.poll() is None]

    def stop_all(self) -> None:
        while self._processes:
            self.stop(self._processes[-1])


def _stop_group(process: "subprocess.Popen[str]") -> None:
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def raise_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks stop the children."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def free_port(taken: set[int]) -> int:
    """A free port in 8100-8199 on 127.0.0.1, not among `taken`."""
    for port in PORTS:
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port in 8100-8199 on 127.0.0.1")


def wait_until_ready(
    process: "subprocess.Popen[str]", url: str, log: Path, timeout_s: float = 60.0
) -> None:
    """Poll `url` until it answers 200; fail with the server's log if it exits or takes too long."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready after {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")
