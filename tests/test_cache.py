"""The cache's Redis connections are the process's, not each request's."""

import os

import pytest
import redis
from django.core.cache import caches

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL=redis://... to run")


def connections_received() -> int:
    return redis.Redis.from_url(os.environ["REDIS_URL"]).info("stats")["total_connections_received"]


def test_cache_objects_made_per_request_share_one_client():
    assert caches.create_connection("default")._cache is caches.create_connection("default")._cache


def test_cache_objects_made_per_request_reuse_the_process_connections():
    # Django makes a cache object per thread, and under ASGI per request: each asks whether a pass is queued.
    caches.create_connection("default").add("warm", 1, 5)
    before = connections_received()
    for n in range(20):
        caches.create_connection("default").add(f"probe-{n}", 1, 5)
    # One for this count itself; at most one more if the pool needed it.
    assert connections_received() - before <= 2
