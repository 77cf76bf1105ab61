"""The Python front end against its peers, side by side in one run.

The same `logger.info("order %s placed", i, extra={...})` calls for each
contender (1,000,000 by default; `SINKBOX_PY_BENCH_CALLS` sets another
count), lossless, into a file where there is one:
- the standard library's FileHandler with a JSON formatter (json.dumps of
  the same fields sinkbox writes);
- a handler whose emit does nothing: what `logging` itself costs;
- sinkbox's SinkboxHandler into a `file` sink (the time includes
  delivering every record: `shutdown`);
- the seed library, fapilog 0.18.1, told not to drop, into its rotating
  file (the time includes its drain); it is ~40x slower, so it logs the
  first 20,000 of the same events;
and `Pipeline.emit(dict)` on one thread against `json.dumps` of the same
dict alone. Rounds interleaved, the median of 3.

Then the latency of one logging call while the destination is slow: an
`http` sink whose server (another process) takes 3 ms per batch; p50, p99
and p99.9 of 200,000 calls, beside the standard library's FileHandler.

Writes the figures to the path given as the first argument (JSON).
"""

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sinkbox

CALLS = int(os.environ.get("SINKBOX_PY_BENCH_CALLS", "1000000"))
SEED_CALLS = min(CALLS, 20_000)
LATENCY_CALLS = min(CALLS, 200_000)
ROUNDS = 3


class JsonFormatter(logging.Formatter):
    """What a JSON logging setup without sinkbox does per record."""

    def format(self, record):
        return json.dumps(
            {
                "timestamp": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
                "module": record.module,
                "function": record.funcName,
                "line": record.lineno,
                "order_id": record.order_id,
                "customer": record.customer,
            }
        )


class NothingHandler(logging.Handler):
    def emit(self, record):
        pass


def bench_logger(handler):
    logger = logging.getLogger(f"bench.{id(handler)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def calls_per_second(handler, finish=lambda: None):
    logger = bench_logger(handler)
    started = time.perf_counter()
    for i in range(CALLS):
        logger.info("order %s placed", i, extra={"order_id": i, "customer": "c-17"})
    finish()
    return CALLS / (time.perf_counter() - started)


def stdlib(dir):
    handler = logging.FileHandler(dir / "stdlib.ndjson")
    handler.setFormatter(JsonFormatter())
    rate = calls_per_second(handler, handler.flush)
    handler.close()
    return rate


def nothing(_dir):
    return calls_per_second(NothingHandler())


def with_sinkbox(dir):
    out = dir / f"sinkbox-{time.monotonic_ns()}.ndjson"
    pipeline = sinkbox.Pipeline([f"file://{out}"])
    rate = calls_per_second(sinkbox.SinkboxHandler(pipeline), lambda: pipeline.shutdown(120))
    lines = sum(1 for _ in open(out))
    assert lines == CALLS, f"{lines} of {CALLS}"
    return rate


def seed_library(dir):
    import asyncio

    from fapilog import Settings, get_logger

    out = dir / f"fapilog-{time.monotonic_ns()}"
    out.mkdir()
    settings = Settings(
        # Not dropping takes both: with only drop_on_full off it still
        # dropped ~0.2 % of a burst after its 50 ms backpressure wait.
        core={
            "sinks": ["rotating_file"],
            "drop_on_full": False,
            "backpressure_wait_ms": 600_000,
            "log_level": "INFO",
        },
        sink_config={"rotating_file": {"directory": str(out), "max_bytes": 1 << 30}},
    )
    logger = get_logger("bench", settings=settings, reuse=False)
    started = time.perf_counter()
    for i in range(SEED_CALLS):
        logger.info(f"order {i} placed", order_id=i, customer="c-17")
    drained = logger.stop_and_drain()
    if asyncio.iscoroutine(drained):
        asyncio.run(drained)
    rate = SEED_CALLS / (time.perf_counter() - started)
    lines = sum(sum(1 for _ in open(f)) for f in out.iterdir())
    assert lines == SEED_CALLS, f"{lines} of {SEED_CALLS}"
    return rate


def emit_dicts(dir):
    out = dir / f"emit-{time.monotonic_ns()}.ndjson"
    pipeline = sinkbox.Pipeline([f"file://{out}"])
    started = time.perf_counter()
    for i in range(CALLS):
        pipeline.emit({"message": "order placed", "order_id": i, "customer": "c-17", "amount": 9.5})
    pipeline.shutdown(120)
    return CALLS / (time.perf_counter() - started)


def dumps_alone(_dir):
    started = time.perf_counter()
    for i in range(CALLS):
        json.dumps({"message": "order placed", "order_id": i, "customer": "c-17", "amount": 9.5})
    return CALLS / (time.perf_counter() - started)


SLOW_SERVER = """
import http.server, sys, time

class Slow(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(0.003)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.do_POST()

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", 0), Slow)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def percentiles(durations_ns):
    ordered = sorted(durations_ns)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000
    return {"p50": at(0.50), "p99": at(0.99), "p99.9": at(0.999)}


def timed_calls(logger):
    durations = []
    clock = time.perf_counter_ns
    for i in range(LATENCY_CALLS):
        started = clock()
        logger.info("order %s placed", i, extra={"order_id": i, "customer": "c-17"})
        durations.append(clock() - started)
    return percentiles(durations)


def slow_destination_latency(dir):
    """p50/p99/p99.9 of one logging call: sinkbox with an `http` sink whose
    server (another process, so it takes no GIL from the caller) spends
    3 ms on each batch, and the standard library's JSON FileHandler."""
    server = subprocess.Popen([sys.executable, "-c", SLOW_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        pipeline = sinkbox.Pipeline.from_toml(
            f"""
            [sinks.slow]
            type = "http"
            endpoint = "http://127.0.0.1:{port}/"
            max_events = 1024
            """
        )
        figures = {"sinkbox_http": timed_calls(bench_logger(sinkbox.SinkboxHandler(pipeline)))}
        unfinished = pipeline.shutdown(120)
        assert unfinished == [], unfinished
        delivered = pipeline.stats()[0]["records"]
        assert delivered == LATENCY_CALLS, f"{delivered} of {LATENCY_CALLS}"
    finally:
        server.kill()
        server.wait()
    handler = logging.FileHandler(dir / "stdlib-latency.ndjson")
    handler.setFormatter(JsonFormatter())
    figures["stdlib_json_file"] = timed_calls(bench_logger(handler))
    handler.close()
    return figures


def main():
    contenders = {
        "stdlib_json_file_handler": stdlib,
        "do_nothing_handler": nothing,
        "sinkbox_handler": with_sinkbox,
        "seed_library_fapilog": seed_library,
        "pipeline_emit_dict": emit_dicts,
        "json_dumps_alone": dumps_alone,
    }
    rates = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory() as dir:
        for _ in range(ROUNDS):
            for name, run in contenders.items():
                rates[name].append(run(Path(dir)))
    median = {name: statistics.median(values) for name, values in rates.items()}
    result = {
        "calls": CALLS,
        "calls_per_s": median,
        "sinkbox_handler_over_stdlib_json": median["sinkbox_handler"] / median["stdlib_json_file_handler"],
        "sinkbox_handler_over_do_nothing": median["sinkbox_handler"] / median["do_nothing_handler"],
        "sinkbox_handler_over_seed_library": median["sinkbox_handler"] / median["seed_library_fapilog"],
        "emit_dict_over_json_dumps": median["pipeline_emit_dict"] / median["json_dumps_alone"],
    }
    with tempfile.TemporaryDirectory() as dir:
        result["call_latency_us_slow_destination"] = slow_destination_latency(Path(dir))
    result["seed_library_calls"] = SEED_CALLS
    print(f"\nPython front end, {CALLS} calls (median of {ROUNDS})")
    for name, rate in median.items():
        print(f"  {name:<28} {rate:>12,.0f} calls/s")
    for key in [k for k in result if "_over_" in k]:
        print(f"  {key:<44} {result[key]:.2f}")
    for name, figures in result["call_latency_us_slow_destination"].items():
        print(f"  one call, slow destination, {name:<16} " + ", ".join(f"{k} {v:.1f} us" for k, v in figures.items()))
    Path(sys.argv[1]).parent.mkdir(parents=True, exist_ok=True)
    Path(sys.argv[1]).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
