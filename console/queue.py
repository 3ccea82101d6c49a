"""The task queue (Celery on Redis) as the apps meet it when it is away."""

from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# What sending a task, or asking the Redis cache, raises while the queue is unreachable or not
# answering. A caller that catches these has a way on without the queue (a mark, a sweep, doing the work
# itself); any other error is a fault and goes on as one.
QUEUE_AWAY = (KombuOperationalError, RedisConnectionError, RedisTimeoutError)
