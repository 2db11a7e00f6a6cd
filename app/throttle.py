"""Rate limits: failed logins per email and per client address, signups per address, task writes
per user (counted in the `limits` library's storage: memory, or Redis across workers and
instances), and the password checks one HTTP request may run."""

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from limits import RateLimitItemPerSecond, storage
from limits.errors import StorageError

from app.errors import RateLimited, Unavailable
from app.settings import Settings
from models.session import USER_AGENT_MAX

THROTTLE_UNAVAILABLE = "Login is unavailable for a moment; try again shortly"
WRITE_WINDOW_SECONDS = 60
logger = logging.getLogger(__name__)


@contextmanager
def _store_answers() -> Iterator[None]:
    """The counts live in the store (Redis across workers); without them no login is let through."""
    try:
        yield
    except StorageError as error:
        raise Unavailable(THROTTLE_UNAVAILABLE) from error


class Window:
    """A count per key in a fixed window, which refuses without counting.

    `claim` counts one *before* the work it guards, so concurrent attempts cannot all slip in
    under the limit; once the window is full it refuses and counts nothing (the place it took for
    a moment is given straight back). `give_back` returns a place the work did not use up.

    Without its store a window refuses everything (`Unavailable`), unless it `fails_open`: then it
    lets everything through, uncounted. Logins fail closed (a store outage must not open the door
    to guessing); task writes fail open (an outage of Redis must not make the service read-only).
    """

    def __init__(
        self,
        store: storage.Storage,
        name: str,
        limit: int,
        seconds: int,
        refusal: str,
        *,
        fails_open: bool = False,
    ) -> None:
        self._store = store
        self._item = RateLimitItemPerSecond(limit, seconds, namespace=name)
        self._refusal = refusal
        self._fails_open = fails_open

    def claim(self, key: str) -> None:
        """Take a place for `key`, or raise `RateLimited` (counting nothing) if none is free."""
        try:
            reset_at = self._take(self._item.key_for(key))
        except StorageError as error:
            if not self._fails_open:
                raise Unavailable(THROTTLE_UNAVAILABLE) from error
            logger.warning("throttle store unavailable; %s not counted: %r", self._item, error)
            return
        if reset_at is not None:
            retry_after = max(1, math.ceil(reset_at - time.time()))
            raise RateLimited(f"{self._refusal}; try again in {retry_after} seconds", retry_after)

    def _take(self, storage_key: str) -> float | None:
        """None when a place was taken; else when the full window ends (nothing counted)."""
        if self._store.incr(storage_key, self._item.get_expiry()) <= self._item.amount:
            return None
        self._decrement(storage_key)
        return float(self._store.get_expiry(storage_key))

    def give_back(self, key: str) -> None:
        with _store_answers():
            self._decrement(self._item.key_for(key))

    def _decrement(self, storage_key: str) -> None:
        # The stores' `incr` starts a new window at the amount given; a window that ended after
        # the claim must not start again at -1, a free extra attempt.
        if self._store.incr(storage_key, self._item.get_expiry(), amount=-1) < 0:
            self._store.incr(storage_key, self._item.get_expiry(), amount=1)


class Throttles:
    """The windows of the contract, in one store shared by every worker that names it."""

    def __init__(self, settings: Settings) -> None:
        store = storage.storage_from_string(settings.rate_limit_storage_url, wrap_exceptions=True)
        if not isinstance(store, storage.Storage):
            raise ValueError("RATE_LIMIT_STORAGE_URL must name a synchronous store, not async+")
        failures = "Too many failed login attempts"
        self.login_by_email = Window(
            store, "login", settings.login_max_failures, settings.login_window_seconds, failures
        )
        self.login_by_address = Window(
            store,
            "login-address",
            settings.login_max_failures_per_address,
            settings.login_window_seconds,
            f"{failures} from this address",
        )
        self.signup_by_address = Window(
            store,
            "signup-address",
            settings.signup_max_per_address,
            settings.signup_window_seconds,
            "Too many sign-ups from this address",
        )
        self.writes_by_user = (
            Window(
                store,
                "writes",
                settings.user_writes_per_minute,
                WRITE_WINDOW_SECONDS,
                "Too many changes to your tasks",
                fails_open=True,
            )
            if settings.user_writes_per_minute
            else None
        )

    def claim_login(self, email: str, address: str) -> None:
        """A place in both login windows, or in neither."""
        self.login_by_email.claim(email)
        try:
            self.login_by_address.claim(address)
        except BaseException:
            self.login_by_email.give_back(email)
            raise

    def give_back_login(self, email: str, address: str) -> None:
        """A login that checked no wrong password is not a failure: it uses up nothing."""
        self.login_by_email.give_back(email)
        self.login_by_address.give_back(address)


class PasswordChecks:
    """How many bcrypt hashes or checks (signups and logins) one HTTP request may still run.

    GraphQL aliases and batches put many signups or logins in one request; each past the
    allowance fails with `RateLimited` before it hashes anything. Operations of a batch run
    concurrently on one event loop, and `take` does not await, so it needs no lock.
    """

    def __init__(self, allowed: int) -> None:
        self._allowed = allowed
        self._left = allowed

    def take(self) -> None:
        if self._left <= 0:
            raise RateLimited(
                f"A request may sign up or log in at most {self._allowed} time(s); "
                "send the others in requests of their own",
                retry_after=None,
            )
        self._left -= 1


@dataclass(frozen=True)
class Client:
    """Who is asking: the client's address (the socket peer, or the forwarded address when
    uvicorn trusts the peer as a proxy: `FORWARDED_ALLOW_IPS`) and the password checks its
    request may still run, as the limits count them; its user agent, as its sessions show it."""

    address: str
    password_checks: PasswordChecks
    user_agent: str | None = None

    @classmethod
    def arriving(
        cls, address: str | None, settings: Settings, user_agent: str | None = None
    ) -> "Client":
        """A client at the start of its request, with the full allowance of password checks.
        The `User-Agent` it sent, if any, is kept (clipped) to describe the sessions it starts."""
        return cls(
            address=address or "unknown",
            password_checks=PasswordChecks(settings.max_password_checks_per_request),
            user_agent=(user_agent or "").strip()[:USER_AGENT_MAX] or None,
        )
