"""A Celery worker whose queue connection takes nothing: alive, answering its control channel, its queues
still consumed, but never asking Redis for a task (what a hung connection leaves). For the worker-watch
test only: ``python -m tests.stuck_worker <celery worker arguments>``."""

import sys

from kombu.transport import redis

redis.Channel._brpop_start = lambda self, timeout=None: None

if __name__ == "__main__":
    from celery.__main__ import main

    sys.argv = ["celery", *sys.argv[1:]]
    main()
