"""Run the console under uvicorn (ASGI): ``python -m margincall.serve [--host H] [--port P] [--workers N]``.

Each open list page holds one event stream: a socket and a little memory, no thread and no database
connection. The open-file limit is raised to its hard limit first, so a process can hold thousands.
Defaults come from the environment: ``HOST``, ``PORT``, ``WEB_CONCURRENCY`` (worker processes),
``FORWARDED_ALLOW_IPS`` (proxies whose X-Forwarded-* headers are trusted)."""

from __future__ import annotations

import argparse
import logging
import os
import resource

import uvicorn

logger = logging.getLogger("margincall.serve")


def raise_open_files_limit(wanted: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m margincall.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1)), help="processes"
    )
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "info").lower())
    parser.add_argument("--no-access-log", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "margincall.settings")
    files = raise_open_files_limit()
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logger.info("open-file limit %d per process; %d worker(s) on %s:%d", files, args.workers, args.host, args.port)
    uvicorn.run(
        "margincall.asgi:application",
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        lifespan="off",  # Django has no lifespan events
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        # Event streams never end by themselves: give them a moment to close, then stop.
        timeout_graceful_shutdown=5,
        timeout_keep_alive=10,
        log_level=args.log_level,
        access_log=not args.no_access_log,
    )


if __name__ == "__main__":
    main()
