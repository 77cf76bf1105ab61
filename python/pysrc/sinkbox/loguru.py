"""loguru into a sinkbox pipeline: a sink for ``logger.add``.

    from loguru import logger
    import sinkbox
    from sinkbox.loguru import sinkbox_sink

    pipeline = sinkbox.Pipeline(["file:///var/log/app.ndjson"])
    logger.add(sinkbox_sink(pipeline), level="INFO")

Each message's record becomes a record: ``timestamp``, ``level``,
``logger`` (the module's name), ``message``, ``module``, ``function``,
``line``, ``thread``, ``process``, the ``exception`` when there is one,
and every ``extra`` field (``logger.bind(...)``, ``contextualize``).
"""

from __future__ import annotations

import traceback
from typing import Any, Callable

from ._sinkbox import Pipeline

__all__ = ["sinkbox_sink"]


def sinkbox_sink(pipeline: Pipeline) -> Callable[[Any], None]:
    """A callable for ``logger.add`` that emits every message into ``pipeline``."""

    def sink(message: Any) -> None:
        record = message.record
        out = {
            "timestamp": record["time"].isoformat(),
            "level": record["level"].name,
            "logger": record["name"],
            "message": record["message"],
            "module": record["module"],
            "function": record["function"],
            "line": record["line"],
            "thread": record["thread"].id,
            "thread_name": record["thread"].name,
            "process": record["process"].id,
        }
        exception = record["exception"]
        if exception is not None and exception.type is not None:
            out["exception"] = {
                "type": exception.type.__name__,
                "message": str(exception.value),
                "traceback": "".join(
                    traceback.format_exception(exception.type, exception.value, exception.traceback)
                ),
            }
        for key, value in record["extra"].items():
            out.setdefault(key, value)
        pipeline.emit(out, level=record["level"].no)

    return sink
