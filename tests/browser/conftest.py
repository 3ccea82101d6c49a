import asyncio
import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

# Playwright's sync API runs an event loop in this thread; the live server's database work is in
# another thread, and the test's own setup is synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    if shutil.which(CHROMIUM):
        return
    if os.environ.get("REQUIRE_BROWSER"):
        raise pytest.UsageError(f"REQUIRE_BROWSER is set but {CHROMIUM} is missing (apt-get install chromium)")
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not installed (apt-get install chromium) ")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


class ConsoleServer:
    """The console under uvicorn (ASGI), as production runs it, in a thread of the test process, on
    the test database. Event streams need an ASGI server: they are async views."""

    def __init__(self):
        import threading

        import uvicorn

        config = uvicorn.Config(
            "margincall.asgi:application",
            host="127.0.0.1",
            port=0,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=asyncio.run, args=[self._serve()], name="console-server", daemon=True)
        self.loop = None

    async def _serve(self):
        self.loop = asyncio.get_running_loop()
        await self.server.serve()

    def start(self):
        import time

        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the console server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self):
        from asgiref.sync import sync_to_async
        from django.db import connections

        # The server's database connections live in its sync thread: close them there, so the test
        # database can be dropped.
        asyncio.run_coroutine_threadsafe(sync_to_async(connections.close_all)(), self.loop).result(timeout=10)
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def _console_server(django_db_setup):
    server = ConsoleServer().start()
    yield server
    server.stop()


@pytest.fixture
def console_server(_console_server, transactional_db):
    """The console's URL for a browser test; the test's data is committed, so the server sees it."""
    return _console_server
