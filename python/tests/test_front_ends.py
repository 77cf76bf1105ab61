"""structlog and loguru, the real packages, into a file sink."""

import json

import loguru
import structlog

import sinkbox
from sinkbox.loguru import sinkbox_sink
from sinkbox.structlog import SinkboxProcessor


def read(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_structlog_events_become_records(tmp_path):
    out = tmp_path / "out.ndjson"
    pipeline = sinkbox.Pipeline([f"file://{out}"])
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            SinkboxProcessor(pipeline),
        ],
        cache_logger_on_first_use=False,
    )
    try:
        log = structlog.get_logger().bind(request_id="r-1")
        log.info("order placed", order_id=42)
        log.warning("stock low", remaining=3)
    finally:
        structlog.reset_defaults()
    pipeline.shutdown()
    placed, low = read(out)
    assert placed["message"] == "order placed" and placed["level"] == "info"
    assert placed["order_id"] == 42 and placed["request_id"] == "r-1"
    assert placed["timestamp"].endswith("Z")
    assert low["level"] == "warning" and low["remaining"] == 3


def test_loguru_messages_become_records(tmp_path):
    out = tmp_path / "out.ndjson"
    pipeline = sinkbox.Pipeline([f"file://{out}"])
    logger = loguru.logger
    handler = logger.add(sinkbox_sink(pipeline), level="DEBUG")
    try:
        logger.bind(user="ada").info("signed in {}", "twice")
        try:
            1 / 0
        except ZeroDivisionError:
            logger.exception("division failed")
    finally:
        logger.remove(handler)
    pipeline.shutdown()
    signed, failed = read(out)
    assert signed["message"] == "signed in twice" and signed["level"] == "INFO"
    assert signed["user"] == "ada" and signed["function"] == "test_loguru_messages_become_records"
    assert failed["level"] == "ERROR"
    assert failed["exception"]["type"] == "ZeroDivisionError"
    assert "1 / 0" in failed["exception"]["traceback"]
