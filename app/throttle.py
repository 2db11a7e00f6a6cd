"""Login throttling per email, on the `limits` library (memory by default, Redis across workers)."""

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from limits import RateLimitItemPerSecond, storage, strategies
from limits.errors import StorageError

from app.errors import RateLimited, Unavailable

THROTTLE_UNAVAILABLE = "Login is unavailable for a moment; try again shortly"


@contextmanager
def _store_answers() -> Iterator[None]:
    """The counts live in the store (Redis across workers); without them no login is let through."""
    try:
        yield
    except StorageError as error:
        raise Unavailable(THROTTLE_UNAVAILABLE) from error


class LoginThrottle:
    """Counts failed logins per email in a fixed window.

    An attempt takes its place *before* the password is checked (`claim`), so concurrent attempts
    cannot all slip in under the limit; a successful login gives its place back (`release`).
    Registered and unknown emails are counted alike.
    """

    def __init__(self, storage_url: str, max_failures: int, window_seconds: int) -> None:
        self._storage = storage.storage_from_string(storage_url, wrap_exceptions=True)
        self._limiter = strategies.FixedWindowRateLimiter(self._storage)
        self._item = RateLimitItemPerSecond(max_failures, window_seconds, namespace="login")

    def claim(self, email: str) -> None:
        """Count an attempt for `email`, or raise `RateLimited` if the email is throttled."""
        with _store_answers():
            if self._limiter.hit(self._item, email):
                return
            reset_at = self._limiter.get_window_stats(self._item, email).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise RateLimited(
            f"Too many failed login attempts; try again in {retry_after} seconds",
            retry_after=retry_after,
        )

    def release(self, email: str) -> None:
        """Give back the place `claim` took: a successful login is not a failure."""
        with _store_answers():
            self._storage.incr(self._item.key_for(email), self._item.get_expiry(), amount=-1)

    def reset(self) -> None:
        self._storage.reset()
