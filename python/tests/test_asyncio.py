"""asyncio code and a destination that falls behind.

An emit waits only under `overflow = "block"` (the default, lossless) when
a sink's queue is full, and then with the GIL released; under
`drop_newest`/`drop_oldest` it never waits, so an event loop keeps turning
while a destination is stuck.
"""

import asyncio
import http.server
import json
import logging
import socket
import threading
import time

import sinkbox


def read(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def stuck_endpoint():
    """A port that takes connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}/"


def test_asyncio_tasks_log_while_a_destination_is_stuck(tmp_path):
    listener, endpoint = stuck_endpoint()
    out = tmp_path / "all.ndjson"
    pipeline = sinkbox.Pipeline.from_toml(
        f"""
        [runtime.batch]
        max_records = 100
        [sinks.all]
        type = "file"
        path = "{out}"
        [sinks.stuck]
        type = "http"
        endpoint = "{endpoint}"
        healthcheck = false  # its probe would wait out the timeout
        queue_capacity = 1
        overflow = "drop_newest"
        """
    )
    logger = logging.getLogger("asyncio-test")
    logger.handlers[:] = [sinkbox.SinkboxHandler(pipeline)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    gaps = []

    async def ticker(done):
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    async def task(n):
        for i in range(200):
            logger.info("task %d step %d", n, i, extra={"task": n, "i": i})
            if i % 10 == 0:
                await asyncio.sleep(0)

    async def main():
        done = asyncio.Event()
        tick = asyncio.create_task(ticker(done))
        await asyncio.gather(*(task(n) for n in range(50)))
        done.set()
        await tick

    asyncio.run(main())
    # The stuck sink cannot finish; the file has every record.
    assert pipeline.shutdown(2.0) == ["stuck"]
    listener.close()
    records = read(out)
    assert sorted((r["task"], r["i"]) for r in records) == [(n, i) for n in range(50) for i in range(200)]
    # A generous guard, not a timing claim: a loop blocked on the stuck
    # destination would not turn for the request timeout (30 s).
    assert max(gaps) < 5.0, max(gaps)


class GatedHandler(http.server.BaseHTTPRequestHandler):
    gate = threading.Event()
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        GatedHandler.gate.wait()
        GatedHandler.received.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_blocked_emit_releases_the_gil_and_loses_nothing(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), GatedHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pipeline = sinkbox.Pipeline.from_toml(
        f"""
        [runtime.batch]
        max_records = 10
        [sinks.slow]
        type = "http"
        endpoint = "http://127.0.0.1:{server.server_address[1]}/"
        healthcheck = false
        queue_capacity = 1
        overflow = "block"
        """
    )
    emitted = []

    def producer():
        for i in range(200):
            pipeline.emit({"i": i})
            emitted.append(i)

    thread = threading.Thread(target=producer)
    thread.start()
    # Wait until the producer stops moving: its emit waits on the full
    # queue. This thread keeps running meanwhile, which it could not if
    # that wait held the GIL.
    last, still_since = -1, time.monotonic()
    deadline = time.monotonic() + 60
    while time.monotonic() - still_since < 0.3:
        assert time.monotonic() < deadline, "the producer never waited"
        if len(emitted) != last:
            last, still_since = len(emitted), time.monotonic()
        time.sleep(0.01)
    assert thread.is_alive() and len(emitted) < 200, "the emits did not wait on the full queue"
    GatedHandler.gate.set()
    thread.join(60)
    assert not thread.is_alive()
    assert pipeline.shutdown(30) == []
    server.shutdown()
    # The http sink posts each batch as one JSON array.
    received = [record["i"] for body in GatedHandler.received for record in json.loads(body)]
    assert sorted(received) == list(range(200))
