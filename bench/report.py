"""The table: a row per scenario with its medians over the runs, a ratio and the target it meets."""

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.wrk import WrkResult

STORM = "login_during_list"  # the login side of list_under_login


@dataclass(frozen=True)
class Measured:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    runs: int
    requests: int  # answers counted over all runs
    other_cores: float = 0.0  # CPU used meanwhile by processes outside the benchmark, in cores


def median(results: Sequence[WrkResult], other_cores: Sequence[float]) -> Measured:
    """Each number is the median of its own runs; errors are summed over all runs."""
    return Measured(
        other_cores=statistics.median(other_cores) if other_cores else 0.0,
        rps=statistics.median(r.rps for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
        runs=len(results),
        requests=sum(r.requests for r in results),
    )


@dataclass(frozen=True)
class Row:
    scenario: str
    measured: Measured | None
    note: str = ""  # why there is no measurement, or what the numbers mean
    ratio: float | None = None
    ratio_of: str = ""
    target: str = ""
    passed: bool | None = None


def _ratio(
    name: str,
    measured: Mapping[str, Measured],
    value: float | None,
    reference: float | None,
    *,
    of: str,
    at_least: float | None = None,
    at_most: float | None = None,
) -> Row:
    mine = measured.get(name)
    if mine is None or value is None or reference is None:
        return Row(name, mine)
    if mine.requests == 0 or reference == 0:
        return Row(name, mine, "no answer completed in time", passed=False)
    ratio = value / reference
    if at_least is not None:
        return Row(name, mine, "", ratio, of, f">= {at_least:.2f}", ratio >= at_least)
    if at_most is not None:
        return Row(name, mine, "", ratio, of, f"<= {at_most:.2f}", ratio <= at_most)
    return Row(name, mine, "", ratio, of, "(info)")


def rows(
    measured: Mapping[str, Measured], bound_rps: float, skipped: Mapping[str, str]
) -> list[Row]:
    def rps(name: str) -> float | None:
        return measured[name].rps if name in measured else None

    def p50(name: str) -> float | None:
        return measured[name].p50_ms if name in measured else None

    def p99(name: str) -> float | None:
        return measured[name].p99_ms if name in measured else None

    table = [
        Row("baseline_list", measured.get("baseline_list"), "reference for rest_list"),
        _ratio(
            "rest_list",
            measured,
            rps("rest_list"),
            rps("baseline_list"),
            of="x baseline req/s",
            at_least=0.6,
        ),
        _ratio(
            "gql_list",
            measured,
            rps("gql_list"),
            rps("rest_list"),
            of="x rest_list req/s",
            at_least=0.5,
        ),
        _ratio(
            "gql_batch",
            measured,
            rps("gql_batch"),
            rps("rest_list"),
            of="x rest_list req/s",
            at_least=0.4,
        ),
        Row("first_page", measured.get("first_page"), "reference for the pages below"),
        _ratio("mid_page", measured, p50("mid_page"), p50("first_page"), of="x first_page p50"),
        _ratio(
            "deep_page",
            measured,
            p50("deep_page"),
            p50("first_page"),
            of="x first_page p50",
            at_most=1.2,
        ),
        Row("rest_create", measured.get("rest_create")),
        Row(
            "bcrypt_bound",
            Measured(bound_rps, 0, 0, 0, 0, 0),
            "cores / seconds per bcrypt hash at cost 12",
        ),
        _ratio("login", measured, rps("login"), bound_rps, of="x bcrypt bound", at_least=0.9),
        _ratio(
            "list_under_login",
            measured,
            p99("list_under_login"),
            p99("rest_list"),
            of="x rest_list p99",
            at_most=3.0,
        ),
        _ratio(STORM, measured, rps(STORM), bound_rps, of="x bcrypt bound", at_least=0.9),
    ]
    return [
        Row(row.scenario, None, skipped[row.scenario]) if row.scenario in skipped else row
        for row in table
    ]


def render(table: Sequence[Row]) -> str:
    header = (
        f"{'scenario':<18} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}  "
        f"{'ratio':<26} {'target':<8} {'verdict':<7} other load"
    )
    lines = [header, "-" * len(header)]
    for row in table:
        m = row.measured
        if m is None:
            lines.append(f"{row.scenario:<18} {row.note or 'n/a'}")
            continue
        if row.scenario == "bcrypt_bound":
            lines.append(f"{row.scenario:<18} {m.rps:>9.1f} {'':>9} {'':>9} {'':>7}  ({row.note})")
            continue
        ratio = f"{row.ratio:.2f} {row.ratio_of}" if row.ratio is not None else f"({row.note})"
        ratio = ratio if row.ratio is not None or row.note else ""
        verdict = "" if row.passed is None else ("PASS" if row.passed else "FAIL")
        lines.append(
            f"{row.scenario:<18} {m.rps:>9.1f} {m.p50_ms:>9.1f} {m.p99_ms:>9.1f} {m.errors:>7}  "
            f"{ratio:<26} {row.target:<8} {verdict:<7} {m.other_cores:.2f} cores"
        )
    return "\n".join(lines)
