"""The retry policy (gearkv.retry, the C++ client's policy) against an in-process fake server
that stays UNAVAILABLE: no gearkv-server needed."""
from __future__ import annotations

import random
import threading
import time
from concurrent import futures

import grpc
import pytest

import gearkv
from gearkv.v1 import kv_cache_pb2 as pb
from gearkv.v1 import kv_cache_pb2_grpc as pb_grpc


class _Unavailable(pb_grpc.KVCacheServicer):
    """Every Stats and Get fails with UNAVAILABLE; counts the attempts."""

    def __init__(self, code=grpc.StatusCode.UNAVAILABLE):
        self.code = code
        self.attempts = 0
        self._lock = threading.Lock()

    def _fail(self, context):
        with self._lock:
            self.attempts += 1
        context.abort(self.code, "draining")

    def Stats(self, request, context):
        self._fail(context)

    def Get(self, request, context):
        self._fail(context)
        yield pb.GetResponse()  # never reached: abort raises


@pytest.fixture()
def fake():
    servicer = _Unavailable()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_KVCacheServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"127.0.0.1:{port}"
    server.stop(grace=None)


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


def test_unavailable_is_retried_max_attempts_times(fake):
    servicer, target = fake
    with gearkv.Client(target, timeout=30,
                       retry=gearkv.RetryPolicy(initial_backoff=0.005)) as c:
        with pytest.raises(gearkv.UnavailableError) as e:
            c.stats()
    assert servicer.attempts == 5
    assert e.value.details.endswith("(after 5 attempts)")


def test_the_timeout_covers_every_attempt(fake):
    # A policy that would go on for 1000 attempts: the call's one deadline stops it. (With a
    # timeout per attempt the call would take about 1000 * 30 ms.)
    servicer, target = fake
    policy = gearkv.RetryPolicy(max_attempts=1000, initial_backoff=0.02, max_backoff=0.04)
    with gearkv.Client(target, timeout=0.8, retry=policy) as c:
        start = time.monotonic()
        with pytest.raises(gearkv.UnavailableError):
            c.get(b"k")
        took = time.monotonic() - start
    assert took <= 0.8 + 0.3, took
    assert 5 <= servicer.attempts < 1000


def test_other_codes_are_not_retried(fake):
    servicer, target = fake
    servicer.code = grpc.StatusCode.RESOURCE_EXHAUSTED
    with gearkv.Client(target, timeout=30) as c:
        with pytest.raises(gearkv.ResourceExhaustedError) as e:
            c.stats()
    assert servicer.attempts == 1
    assert "attempts" not in e.value.details


def test_resource_exhausted_is_retried_when_asked(fake):
    servicer, target = fake
    servicer.code = grpc.StatusCode.RESOURCE_EXHAUSTED
    policy = gearkv.RetryPolicy(max_attempts=3, initial_backoff=0.005,
                                retry_resource_exhausted=True)
    with gearkv.Client(target, timeout=30, retry=policy) as c:
        with pytest.raises(gearkv.ResourceExhaustedError):
            c.stats()
    assert servicer.attempts == 3


def test_health_is_never_retried(fake):
    _, target = fake
    # The fake has no health service: UNIMPLEMENTED at once, whatever the policy.
    with gearkv.Client(target, timeout=30) as c:
        with pytest.raises(gearkv.GearKVError) as e:
            c.health()
    assert e.value.code == grpc.StatusCode.UNIMPLEMENTED
