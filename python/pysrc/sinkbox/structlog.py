"""structlog into a sinkbox pipeline: a processor that ends the chain.

    import structlog, sinkbox
    from sinkbox.structlog import SinkboxProcessor

    pipeline = sinkbox.Pipeline(["file:///var/log/app.ndjson"])
    structlog.configure(processors=[
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        SinkboxProcessor(pipeline),
    ])

The event dict becomes the record as it is, with its ``event`` as
``message`` (the field name every sink maps); the level (``level``, else
the method's name) travels beside it.
"""

from __future__ import annotations

from typing import Any, MutableMapping

from ._sinkbox import Pipeline

__all__ = ["SinkboxProcessor"]


class SinkboxProcessor:
    """The last processor of a structlog chain: emits the event dict and
    drops the event (nothing else is printed)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        import structlog

        record = dict(event_dict)
        if "event" in record and "message" not in record:
            record["message"] = record.pop("event")
        level = record.get("level", method_name)
        if isinstance(level, str) and level.lower() == "exception":
            level = "error"
        self.pipeline.emit(record, level=level if isinstance(level, (str, int)) else None)
        raise structlog.DropEvent
