"""How busy the machine was with work that is not the benchmark's, while the benchmark measured.

On a shared 2-core machine another process's test run can halve a result. Each measured run takes
a snapshot of every process's CPU time before and after; CPU spent by processes outside the
benchmark (its own process, the process groups it started, and the PostgreSQL backends connected
to its database) is reported as "other load" in cores, so a noisy number can be told from a slow
service.
"""

import os
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class _Process:
    group: int
    seconds: float  # user + system CPU time so far
    command: str


def _processes() -> dict[int, _Process]:
    found: dict[int, _Process] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        seconds = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
        found[int(entry.name)] = _Process(group=int(fields[2]), seconds=seconds, command=command)
    return found


class OtherLoad:
    """Start before a run, `cores()` after it: CPU of everyone else, in cores (1.0 = one core)."""

    def __init__(self, groups: Collection[int], database: str) -> None:
        self.groups = set(groups) | {os.getpgrp()}
        self.database = database
        self.before = _processes()
        self.started = time.monotonic()

    def _ours(self, pid: int, process: _Process) -> bool:
        return (
            pid == os.getpid()
            or process.group in self.groups
            or (process.command.startswith("postgres:") and f" {self.database} " in process.command)
        )

    def cores(self) -> float:
        after = _processes()
        elapsed = time.monotonic() - self.started
        spent = 0.0
        for pid, process in after.items():
            if self._ours(pid, process):
                continue
            earlier = self.before.get(pid)
            spent += process.seconds - (earlier.seconds if earlier else 0.0)
        return max(0.0, spent / elapsed) if elapsed > 0 else 0.0
