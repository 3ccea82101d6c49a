import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Gateway:
    """An SMS/voice gateway on a local port: it records what it receives and answers as told (a status
    code, or a delay longer than the client waits)."""

    def __init__(self):
        self.received = []
        self.answers = []  # (status, delay seconds) per request, in order; then 200
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                gateway.received.append(
                    {"json": json.loads(self.rfile.read(length)), "auth": self.headers.get("Authorization")}
                )
                status, delay = gateway.answers.pop(0) if gateway.answers else (200, 0)
                time.sleep(delay)
                body = json.dumps({"id": f"gw-{len(gateway.received)}"}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(db):
    from notices.models import NoticeGateway

    stub = Gateway()
    for channel in ("sms", "voice"):
        NoticeGateway.objects.create(channel=channel, url=stub.url, token="gw-secret", timeout_seconds="0.5")
    yield stub
    stub.stop()
