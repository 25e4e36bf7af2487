"""The client's retry policy: the C++ client's (client/include/gearkv/client.h), which carries
out every call of gearkv.Client; a RetryPolicy becomes its ClientOptions.

- A call's timeout is one deadline for all of its attempts: each attempt runs under what is
  left of it, and the call gives up rather than sleep past it (timeout None: no deadline, only
  max_attempts bounds the call).
- Only UNAVAILABLE (a server draining or unreachable) is retried, and RESOURCE_EXHAUSTED when
  retry_resource_exhausted is set; every call is idempotent (a Put repeated leaves one block);
  health() is never retried.
- At most max_attempts attempts (5), counting the first. Between them the client sleeps
  initial_backoff (0.05 s), multiplied by backoff_multiplier (2) after each attempt and capped
  at max_backoff (2 s), each sleep drawn uniformly from [d/2, d] so that clients that fail
  together spread out.
- A failure after retries keeps the last attempt's code; its details end with
  "(after N attempts)".
A streaming call that fails part way is retried from its start.
"""
from __future__ import annotations

import dataclasses
import random
import time
from typing import Iterator

from gearkv.errors import StatusCode


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # per call, counting the first
    initial_backoff: float = 0.05  # seconds
    max_backoff: float = 2.0  # seconds
    backoff_multiplier: float = 2.0
    # Also retry RESOURCE_EXHAUSTED (the server's worker pool saturated). Off by default: the
    # same code also means "over the budget or the size limit", which retrying cannot fix.
    retry_resource_exhausted: bool = False

    def __post_init__(self):
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy: max_attempts must be >= 1")

    def retryable(self, code: StatusCode) -> bool:
        return code == StatusCode.UNAVAILABLE or (
            self.retry_resource_exhausted and code == StatusCode.RESOURCE_EXHAUSTED)

    def backoffs(self, rng: random.Random | None = None) -> Iterator[float]:
        """The sleeps between attempts, in seconds (endless; the caller stops)."""
        rng = rng or random.Random()
        d = self.initial_backoff
        multiplier = max(1.0, self.backoff_multiplier)
        while True:
            capped = min(d, self.max_backoff)
            yield capped * rng.uniform(0.5, 1.0)
            d = min(d * multiplier, self.max_backoff)


