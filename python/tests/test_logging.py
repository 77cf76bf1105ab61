"""The logging front end: a LogRecord becomes a JSON record in Rust."""

import json
import logging
import subprocess
import sys
import textwrap

import sinkbox


def read(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_a_log_record_carries_every_field(tmp_path):
    out = tmp_path / "out.ndjson"
    pipeline = sinkbox.Pipeline([f"file://{out}"])
    logger = logging.getLogger("shop.orders")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = sinkbox.SinkboxHandler(pipeline)
    logger.addHandler(handler)
    try:
        logger.info("order %s placed", 42, extra={"order_id": 42, "amount": 9.5, "tags": ["a"], "obj": object()})
        try:
            raise KeyError("missing")
        except KeyError:
            logger.exception("lookup failed")
        logger.warning("with stack", stack_info=True)
    finally:
        logger.removeHandler(handler)
    pipeline.shutdown()
    info, error, warning = read(out)
    assert info["message"] == "order 42 placed"
    assert info["level"] == "INFO" and info["logger"] == "shop.orders"
    assert info["order_id"] == 42 and info["amount"] == 9.5 and info["tags"] == ["a"]
    assert info["obj"].startswith("<object object at")
    assert info["function"] == "test_a_log_record_carries_every_field"
    assert info["module"] == "test_logging" and isinstance(info["line"], int)
    assert isinstance(info["thread"], int) and isinstance(info["process"], int)
    assert info["timestamp"].endswith("Z") and "T" in info["timestamp"]
    assert error["level"] == "ERROR"
    assert error["exception"]["type"] == "KeyError"
    assert "raise KeyError" in error["exception"]["traceback"]
    assert "Stack (most recent call last)" in warning["stack"]


def test_configure_and_exit_without_shutdown_delivers_everything(tmp_path):
    out = tmp_path / "out.ndjson"
    script = textwrap.dedent(
        f"""
        import logging, sinkbox
        sinkbox.configure(sinks=["file://{out}"], level=logging.DEBUG)
        for i in range(1000):
            logging.getLogger("app").info("record %d", i)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    records = read(out)
    assert [r["message"] for r in records] == [f"record {i}" for i in range(1000)]
