"""The Redis cache with one connection pool per process.

Django makes a cache object per thread and, under ASGI, per request; its Redis backend gives each
object a client of its own, with its own connection pool. The console under uvicorn therefore opened a
new connection to Redis for each request that touched the cache (every price tick asks it whether a
recompute pass is queued), and redis-py read its own package metadata from disk for each new client:
about a third of the server's CPU under a storm of 100 ticks a second. Here every cache object of a
process shares one client per configuration, so its pool's connections are reused. redis-py's pools
are thread-safe, and a forked worker process (Celery's) starts its own connections.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache
from django.utils.functional import cached_property

_clients: dict[tuple, object] = {}
_lock = threading.Lock()


class SharedRedisCache(RedisCache):
    @cached_property
    def _cache(self):
        key = (self._class, tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = self._class(self._servers, **self._options)
                # The client makes a server's pool on first use, unlocked: made here, once, under the lock.
                for write in (True, False):
                    client._get_connection_pool(write)
                _clients[key] = client
        return client
