"""Driving load with `wrk`: a Lua script per scenario, and its summary read back as JSON.

The Lua script sets the method, body and headers, counts every answer that is not 2xx (and, for
GraphQL, every 2xx answer whose body carries `"errors"`), and at the end prints one line
`BENCH_RESULT {...}` with requests, duration, latency percentiles and error counts. wrk itself only
counts statuses of 400 and above, and cannot see GraphQL errors, which come with a 200.
"""

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

RESULT_MARKER = "BENCH_RESULT "

_LUA_TEMPLATE = """
wrk.method = [==[{method}]==]
{body_line}
{header_lines}

local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  last_bad = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    last_bad = status
  elseif {check_body} and body ~= nil and string.find(body, '"errors"', 1, true) then
    bad = bad + 1
    last_bad = status
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  local last = 0
  for _, t in ipairs(threads) do
    total_bad = total_bad + t:get("bad")
    if t:get("last_bad") ~= 0 then last = t:get("last_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    '{marker}{{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"bad_answers": %d, "last_bad_status": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"timeout": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    total_bad, last, e.connect, e.read, e.write, e.timeout))
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
class WrkResult:
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers (and GraphQL errors), plus socket errors and timeouts
    last_bad_status: int

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def lua_script(request: Request) -> str:
    for text in (request.method, request.body or "", *request.headers, *request.headers.values()):
        if "]==]" in text:
            raise ValueError("request text may not contain ']==]'")
    body_line = f"wrk.body = [==[{request.body}]==]" if request.body is not None else ""
    header_lines = "\n".join(
        f"wrk.headers[ [==[{name}]==] ] = [==[{value}]==]"
        for name, value in request.headers.items()
    )
    return _LUA_TEMPLATE.format(
        method=request.method,
        body_line=body_line,
        header_lines=header_lines,
        check_body="true" if request.graphql else "false",
        marker=RESULT_MARKER,
    )


def ensure_wrk() -> str:
    """The path of `wrk`, installed from Debian's packages when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing it with apt-get (Debian package `wrk`)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is still missing after apt-get install -y wrk")
    return found


class Wrk:
    """Runs `wrk`; several can run at once (`start` each, then `finish` each)."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir

    def start(
        self,
        base_url: str,
        request: Request,
        *,
        seconds: float,
        connections: int,
        threads: int,
        timeout_s: int,
    ) -> "subprocess.Popen[str]":
        fd, name = tempfile.mkstemp(suffix=".lua", dir=self.workdir)
        with os.fdopen(fd, "w") as file:
            file.write(lua_script(request))
        command = [
            self.binary,
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={max(1, round(seconds))}s",
            f"--timeout={timeout_s}s",
            f"--script={name}",
            base_url + request.path,
        ]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    @staticmethod
    def finish(process: "subprocess.Popen[str]", seconds: float) -> WrkResult:
        try:
            stdout, stderr = process.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise RuntimeError("wrk did not finish in time") from None
        for line in stdout.splitlines():
            if line.startswith(RESULT_MARKER):
                data = json.loads(line.removeprefix(RESULT_MARKER))
                socket_errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
                return WrkResult(
                    requests=data["requests"],
                    duration_s=data["duration_us"] / 1e6,
                    p50_ms=data["p50_us"] / 1000,
                    p99_ms=data["p99_us"] / 1000,
                    errors=data["bad_answers"] + socket_errors,
                    last_bad_status=data["last_bad_status"],
                )
        raise RuntimeError(f"wrk printed no result (exit {process.returncode}): {stderr.strip()}")
