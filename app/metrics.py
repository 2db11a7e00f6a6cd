"""`Metrics`: what an operator graphs, in Prometheus's format at `/metrics`.

With several uvicorn workers, each worker is a process of its own: a counter kept in one
process's memory would answer for whichever worker took the scrape. prometheus-client's
multiprocess mode keeps each process's values in files under `PROMETHEUS_MULTIPROC_DIR` and adds
them up when scraped, so any worker answers for all of them. The variable is prometheus-client's
own, read when it is first imported: it must be in the environment before the server starts, and
name an empty directory (`make serve` makes one). Without it, each process counts for itself
(right with one worker, as in development and the tests).

Every label has a bounded set of values: routes are templates (`/api/tasks/{task_id}`, never
the path), statuses are classes (`2xx`), GraphQL operations are named only while there are few
of them (`OperationNames`), error codes are the contract's.
"""

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ
# Requests and GraphQL operations take milliseconds; the slowest buckets catch a login's bcrypt
# work and a unit of work waiting out its deadline.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ANONYMOUS = "anonymous"  # an operation without a name
OTHER = "other"  # a name past `OperationNames`' limit, or not a GraphQL name
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")


class OperationNames:
    """The label of a GraphQL operation: its name, for the first `limit` names this process
    sees (the names of a front end's documents, persisted ones included, are few and come
    early); every later name folds into `other`, so no client can grow the label set."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def label(self, name: str | None) -> str:
        if not name:
            return ANONYMOUS
        if name in self._seen:
            return name
        if len(self._seen) >= self._limit or not _NAME.fullmatch(name):
            return OTHER
        self._seen.add(name)
        return name


class Pending:
    """One more in `gauge` until `end()`, which may be called many times and from any thread
    (the waiter and the worker race to end a wait): it counts once."""

    def __init__(self, gauge: Gauge) -> None:
        self._gauge = gauge
        self._ended = threading.Lock()
        gauge.inc()

    def end(self) -> None:
        if self._ended.acquire(blocking=False):
            self._gauge.dec()


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class Metrics:
    """The service's metrics, registered in a registry of their own (each app its own: the
    tests build many), exposed by `exposition`."""

    def __init__(self, operation_names: int = 100) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.operation_names = OperationNames(operation_names)

        def gauge(name: str, documentation: str) -> Gauge:
            # livesum: the sum over the processes alive (a dead worker's units are not in flight)
            return Gauge(name, documentation, registry=registry, multiprocess_mode="livesum")

        self.requests = Counter(
            "todo_http_requests",
            "HTTP requests answered, by route template, method and status class.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "todo_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.graphql_operations = Counter(
            "todo_graphql_operations",
            "GraphQL operations executed over HTTP, by operation name and the code of their "
            "first error (`ok` without one).",
            ["operation", "code"],
            registry=registry,
        )
        self.graphql_seconds = Histogram(
            "todo_graphql_operation_duration_seconds",
            "Time to execute one GraphQL operation (of a batch: each on its own).",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.units_running = gauge(
            "todo_db_units_running", "Units of database work running in worker threads."
        )
        self.units_waiting = gauge(
            "todo_db_units_waiting", "Units of database work waiting for a worker thread."
        )
        self.connections_in_use = gauge(
            "todo_db_pool_connections_in_use", "Pooled database connections checked out."
        )
        self.hashes_running = gauge("todo_bcrypt_hashes_running", "bcrypt hashes being computed.")
        self.hashes_waiting = gauge(
            "todo_bcrypt_hashes_waiting", "bcrypt hashes waiting for a free slot."
        )
        self.login_refusals = Counter(
            "todo_login_refusals",
            "Logins refused, by reason: `credentials` (unknown email or wrong password), "
            "`throttled` (too many failures for the email or the address).",
            ["reason"],
            registry=registry,
        )
        self.sockets = gauge("todo_live_sockets", "GraphQL WebSockets open.")
        self.subscriptions = gauge("todo_live_subscriptions", "Subscriptions running.")
        self.events_published = Counter(
            "todo_task_events_published",
            "Task events this process's writes announced.",
            registry=registry,
        )
        self.events_delivered = Counter(
            "todo_task_events_delivered",
            "Task events handed to a subscription of this process.",
            registry=registry,
        )
        self.key_set_fetches = Counter(
            "todo_better_auth_key_set_fetches",
            "Fetches of the Better Auth key set, by outcome (`ok`, `failed`).",
            ["outcome"],
            registry=registry,
        )

    @staticmethod
    @contextmanager
    def inside(gauge: Gauge) -> Iterator[None]:
        """`gauge` counts one more while the block runs."""
        gauge.inc()
        try:
            yield
        finally:
            gauge.dec()

    def exposition(self) -> tuple[bytes, str]:
        """The scrape's body and media type: every process's values in multiprocess mode, this
        registry's otherwise."""
        if MULTIPROCESS:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    @staticmethod
    def process_ended() -> None:
        """Called as a worker stops: its live gauges stop counting."""
        if MULTIPROCESS:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
