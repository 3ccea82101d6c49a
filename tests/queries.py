"""How many queries pages read: to check that a list reads a fixed number however many rows it shows."""

from django.db import connection
from django.test.utils import CaptureQueriesContext


def queries_read(client, pages) -> list[int]:
    """The queries each (url, query) page reads, asked a second time (the first settles the session and
    what a page keeps), its whole answer read (a CSV is streamed)."""
    found = []
    for url, query in pages:
        client.get(url, query)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, query)
            if response.streaming:
                b"".join(response.streaming_content)
        found.append(len(queries))
    return found
