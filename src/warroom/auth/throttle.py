"""Throttling of failed sign-ins per account and per client address (the `limits` library)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from warroom.auth.config import FailureLimit, SignInConfig
from warroom.core.errors import WarroomError


class Throttled(WarroomError):
    """Too many failed sign-ins; `retry_after` says in how many seconds to try again."""

    code = "too_many_requests"
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, {"retry_after": retry_after})
        self.retry_after = retry_after


def _item(limit: FailureLimit) -> RateLimitItem:
    return RateLimitItemPerSecond(limit.count, max(1, int(limit.window.total_seconds())))


class SignInThrottle:
    """Count failed sign-ins in memory; one process's view (docs/security.md says more)."""

    def __init__(self) -> None:
        # A moving window: a burst at the edge of a fixed window cannot double the rate.
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, config: SignInConfig, *, account: str, address: str) -> None:
        """Raise Throttled if either the account or the address has used up its failures."""
        waits = [
            self._wait(_item(limit), kind, key)
            for limit, kind, key in self._keys(config, account=account, address=address)
        ]
        wait = max(waits)
        if wait > 0:
            raise Throttled(
                f"too many failed sign-ins; try again in {wait} seconds", retry_after=wait
            )

    def failed(self, config: SignInConfig, *, account: str, address: str) -> None:
        """Count one failed sign-in against the account and the address."""
        for limit, kind, key in self._keys(config, account=account, address=address):
            self._limiter.hit(_item(limit), kind, key)

    def _wait(self, item: RateLimitItem, kind: str, key: str) -> int:
        if self._limiter.test(item, kind, key):
            return 0
        reset, _remaining = self._limiter.get_window_stats(item, kind, key)
        return max(1, math.ceil(reset - time.time()))

    @staticmethod
    def _keys(
        config: SignInConfig, *, account: str, address: str
    ) -> list[tuple[FailureLimit, str, str]]:
        # Names are matched case-blind so `Alice` and `alice` share one budget.
        return [
            (config.per_account, "account", account.strip().casefold()),
            (config.per_address, "address", address),
        ]
