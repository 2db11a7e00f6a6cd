"""Load from `wrk`, with a Lua script that counts what a client would call an error.

wrk itself counts only statuses of 400 and above, and cannot see GraphQL errors, which come with a
200: the script counts every answer that is not 2xx and, for GraphQL, every 2xx whose body carries
`"errors"`, then prints one `BENCH_RESULT` line with requests, duration, p50, p99 and errors.
"""

import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_LUA = """
wrk.method = [==[{method}]==]
{body}
{headers}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if status < 200 or status > 299
    or ({graphql} and string.find(body or "", '"errors"', 1, true)) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.timeout
  for _, t in ipairs(threads) do errors = errors + t:get("bad") end
  io.write(string.format("BENCH_RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), errors))
end
"""


@dataclass(frozen=True)
class Request:
    """What every request of a scenario sends."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: str | None = None
    graphql: bool = False  # a 200 whose body carries "errors" counts as an error


@dataclass(frozen=True)
class Result:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and GraphQL errors, socket errors and timeouts


def start(
    base_url: str,
    request: Request,
    workdir: Path,
    *,
    seconds: float,
    connections: int,
    threads: int,
) -> "subprocess.Popen[str]":
    """wrk loading `request` for `seconds`; `finish` reads its result."""
    texts = (request.method, request.body or "", *request.headers, *request.headers.values())
    if any("]==]" in text for text in texts):
        raise ValueError("request text may not contain ']==]'")
    headers = (f"wrk.headers[ [==[{k}]==] ] = [==[{v}]==]" for k, v in request.headers.items())
    script = _LUA.format(
        method=request.method,
        body="" if request.body is None else f"wrk.body = [==[{request.body}]==]",
        headers="\n".join(headers),
        graphql=str(request.graphql).lower(),
    )
    fd, name = tempfile.mkstemp(suffix=".lua", dir=workdir)
    with os.fdopen(fd, "w") as file:
        file.write(script)
    # Logins queue behind bcrypt for seconds: hence the long timeout.
    command = [
        "wrk", f"--threads={threads}", f"--connections={connections}", "--timeout=30s",
        f"--duration={max(1, round(seconds))}s", f"--script={name}", base_url + request.path,
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: "subprocess.Popen[str]", seconds: float) -> Result:
    try:
        stdout, stderr = process.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise RuntimeError("wrk did not finish in time") from None
    for line in stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            requests, duration_us, p50_us, p99_us, errors = map(int, line.split()[1:])
            rps = requests / (duration_us / 1e6) if duration_us else 0.0
            return Result(requests, rps, p50_us / 1000, p99_us / 1000, errors)
    raise RuntimeError(f"wrk printed no result (exit {process.returncode}): {stderr.strip()}")
