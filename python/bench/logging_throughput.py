"""The Python front end against its peers, side by side in one run.

The same 200,000 `logger.info("order %s placed", i, extra={...})` calls
for each contender (lossless, into a file where there is one):
- the standard library's FileHandler with a JSON formatter (json.dumps of
  the same fields sinkbox writes);
- a handler whose emit does nothing: what `logging` itself costs;
- sinkbox's SinkboxHandler into a `file` sink (the time includes
  delivering every record: `shutdown`);
and `Pipeline.emit(dict)` on one thread against `json.dumps` of the same
dict alone. Rounds interleaved, the median of 3. Writes the figures to
the path given as the first argument (JSON).
"""

import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sinkbox

CALLS = 200_000
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


def calls_per_second(handler, finish=lambda: None):
    logger = logging.getLogger(f"bench.{id(handler)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
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


def main():
    contenders = {
        "stdlib_json_file_handler": stdlib,
        "do_nothing_handler": nothing,
        "sinkbox_handler": with_sinkbox,
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
        "emit_dict_over_json_dumps": median["pipeline_emit_dict"] / median["json_dumps_alone"],
    }
    print(f"\nPython front end, {CALLS} calls (median of {ROUNDS})")
    for name, rate in median.items():
        print(f"  {name:<28} {rate:>12,.0f} calls/s")
    for key in [k for k in result if "_over_" in k]:
        print(f"  {key:<44} {result[key]:.2f}")
    Path(sys.argv[1]).parent.mkdir(parents=True, exist_ok=True)
    Path(sys.argv[1]).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
