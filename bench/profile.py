"""`--profile SCENARIO`: py-spy samples the service during that scenario's measured runs.

py-spy is not a dependency of the project; when it is missing the benchmark says how to get it
(`.venv/bin/pip install py-spy`). It records in raw (collapsed stack) form, one file per run under
bench/results/, and the summary printed here ranks functions by the share of samples in which they
are running (self) or on the stack (inclusive). With `--gil` only samples of the thread holding the
GIL count: what the single Python core is spent on.
"""

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.processes import Children


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(
    binary: str, pid: int, seconds: float, output: Path, *, gil: bool, children: Children
) -> "subprocess.Popen[str]":
    command = [
        binary, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
        "--rate", "100", "--format", "raw", "--nolineno", "--subprocesses", "--nonblocking",
        "--output", str(output),
    ]  # fmt: skip
    if gil:
        command.append("--gil")
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    return children.adopt(process)


def finish(process: "subprocess.Popen[str]", seconds: float, children: Children) -> None:
    try:
        process.wait(timeout=seconds + 30)
    finally:
        children.stop(process)


def _frame(frame: str) -> str:
    """`handler (fastapi/routing.py)` stays as it is; process and thread lines are dropped."""
    return frame.strip()


def summarize(files: list[Path], top: int = 25) -> list[str]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_frame(f) for f in stack.split(";") if "(" in f and ")" in f]
            if not frames:
                continue
            total += count
            own[frames[-1]] += count
            for frame in set(frames):
                inclusive[frame] += count
    if total == 0:
        return ["  no samples (is the service a Python process py-spy may trace?)"]
    lines = [f"  {total} samples; self (where the thread is running):"]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append("  inclusive (on the stack), excluding thread and event-loop bootstrap frames:")
    boring = ("_bootstrap", "run (", "Runner.run", "asyncio_run", "_run_module", "_run_code")
    kept = [(n, c) for n, c in inclusive.most_common() if not n.startswith(boring)]
    lines += [f"    {100 * c / total:5.1f}%  {n}" for n, c in kept[:top]]
    return lines
