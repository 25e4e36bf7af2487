"""The retry policy (gearkv.retry, carried out by the C++ client) against an address where
nothing listens (UNAVAILABLE at every attempt): no gearkv-server needed."""
from __future__ import annotations

import random
import time

import pytest

import gearkv
from conftest import free_port


@pytest.fixture()
def nowhere():
    return f"127.0.0.1:{free_port()}"  # bound and released: nothing listens there


def test_backoff_grows_with_jitter_up_to_the_cap():
    policy = gearkv.RetryPolicy(initial_backoff=0.1, max_backoff=0.5, backoff_multiplier=2)
    sleeps = policy.backoffs(random.Random(7))
    for cap in (0.1, 0.2, 0.4, 0.5, 0.5, 0.5):
        d = next(sleeps)
        assert cap / 2 <= d <= cap


def test_the_default_policy_is_the_cpp_clients():
    # client/include/gearkv/client.h, ClientOptions.
    p = gearkv.RetryPolicy()
    assert (p.max_attempts, p.initial_backoff, p.max_backoff, p.backoff_multiplier,
            p.retry_resource_exhausted) == (5, 0.05, 2.0, 2.0, False)


def test_retryable_codes():
    assert gearkv.RetryPolicy().retryable(gearkv.StatusCode.UNAVAILABLE)
    assert not gearkv.RetryPolicy().retryable(gearkv.StatusCode.RESOURCE_EXHAUSTED)
    assert gearkv.RetryPolicy(retry_resource_exhausted=True).retryable(
        gearkv.StatusCode.RESOURCE_EXHAUSTED)


@pytest.mark.parametrize("attempts", [1, 3, 5])
def test_unavailable_is_retried_max_attempts_times(nowhere, attempts):
    with gearkv.Client(nowhere, timeout=30,
                       retry=gearkv.RetryPolicy(max_attempts=attempts,
                                                initial_backoff=0.005)) as c:
        with pytest.raises(gearkv.UnavailableError) as e:
            c.stats()
    assert e.value.code == gearkv.StatusCode.UNAVAILABLE and e.value.method == "Stats"
    if attempts > 1:
        assert e.value.details.endswith(f"(after {attempts} attempts)")
    else:
        assert "attempts" not in e.value.details


def test_the_timeout_covers_every_attempt(nowhere):
    # A policy that would go on for 1000 attempts: the call's one deadline stops it.
    policy = gearkv.RetryPolicy(max_attempts=1000, initial_backoff=0.02, max_backoff=0.04)
    with gearkv.Client(nowhere, timeout=0.8, retry=policy) as c:
        start = time.monotonic()
        with pytest.raises(gearkv.GearKVError) as e:
            c.get(b"k")
        took = time.monotonic() - start
    assert e.value.code in (gearkv.StatusCode.UNAVAILABLE, gearkv.StatusCode.DEADLINE_EXCEEDED)
    assert took <= 0.8 + 0.3, took


def test_health_is_never_retried(nowhere):
    with gearkv.Client(nowhere, timeout=30) as c:
        with pytest.raises(gearkv.UnavailableError) as e:
            c.health()
    assert "attempts" not in e.value.details


def test_wait_ready_gives_up_with_unavailable(nowhere):
    with gearkv.Client(nowhere) as c:
        start = time.monotonic()
        with pytest.raises(gearkv.UnavailableError):
            c.wait_ready(timeout=0.5)
        assert time.monotonic() - start < 2
