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


# Where a sample belongs: the innermost frame that matches one of these, in this order of test.
# Names are those of this service and its libraries; a sample matching none counts as "other".
PHASES: list[tuple[str, tuple[str, ...]]] = [
    ("pydantic validation (TaskPublic.model_validate)", ("sqlmodel_validate", "model_validate")),
    ("service count_tasks (count query)", ("count_tasks (app/services",)),
    ("service list_tasks (page query, ORM objects)", ("list_tasks (app/services",)),
    ("service page_tasks (GraphQL page, ORM objects)", ("page_tasks (app/services",)),
    ("DataLoader users_by_id", ("users_by_id",)),
    ("JWT decode", ("jwt/", "decode_token")),
    ("authenticate: load the user row", ("authenticate (app/services",)),
    ("login (bcrypt, throttle, tokens)", ("_password", "app/throttle.py", "issue_tokens")),
    ("session end: rollback, pool return", ("Database.run.<locals>.call", "Context.run.<locals>")),
    ("response serialization", ("serialize_response", "dump_json", "_prepare_response_content")),
    ("GraphQL execution (strawberry, graphql-core)", ("strawberry/", "graphql/")),
    ("FastAPI routing and dependencies", ("fastapi/",)),
    ("uvicorn HTTP, Starlette and app middleware", ("uvicorn/", "starlette/", "app/")),
    ("thread hops (anyio, thread wake-ups)", ("anyio/", "threading.py", "queue.py")),
    ("event loop (uvloop, in C)", ("Runner.run", "asyncio/")),
]


def _phase(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, keys in PHASES:
            if any(key in frame for key in keys):
                return name
    return "other"


def summarize(files: list[Path], top: int = 15) -> list[str]:
    own: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    total = 0
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [f.strip() for f in stack.split(";") if "(" in f and ")" in f]
            if not frames:
                continue
            total += count
            own[frames[-1]] += count
            phases[_phase(frames)] += count
    if total == 0:
        return ["  no samples (is the service a Python process py-spy may trace?)"]
    lines = [f"  {total} samples; by part of the request (innermost match):"]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in phases.most_common()]
    lines.append("  functions running when sampled (self):")
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    return lines
