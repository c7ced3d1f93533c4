"""The per-peer refusal limiter: a token bucket an address spends with each refused attempt."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from hub.interfaces import peer_key


class RefusalLimiter:
    """A token bucket per peer (an IPv6 address by its /64): refused attempts spend tokens.

    An empty bucket blocks the peer until it refills. Buckets of peers not seen for
    `forget_after` seconds are pruned, so a stream of new addresses can't grow the table
    without bound. Called from the writer thread (`refused`) and the reactor thread (`blocked`).
    """

    def __init__(
        self,
        per_minute: float = 10.0,
        burst: int = 10,
        clock: Callable[[], float] = time.monotonic,
        forget_after: float = 3600.0,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.forget_after = forget_after
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._pruned_at = clock()

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.rate)

    def refused(self, peer: str) -> bool:
        """Spend a token for a refused attempt; True when the peer is now blocked."""
        key = peer_key(peer)
        with self._lock:
            now = self.clock()
            tokens = max(0.0, self._level(key, now) - 1.0)
            self._buckets[key] = (tokens, now)
            if now - self._pruned_at > min(60.0, self.forget_after):
                self._prune(now)
            return tokens < 1.0

    def blocked(self, peer: str) -> bool:
        """True while the peer has no token left."""
        key = peer_key(peer)
        with self._lock:
            if key not in self._buckets:
                return False
            return self._level(key, self.clock()) < 1.0

    def __len__(self) -> int:
        """How many peers have a bucket."""
        return len(self._buckets)

    def _prune(self, now: float) -> None:
        self._pruned_at = now
        stale = [key for key, (_tokens, at) in self._buckets.items() if now - at > self.forget_after]
        for key in stale:
            del self._buckets[key]
