"""The standard library's ``logging`` into a sinkbox pipeline.

``SinkboxHandler`` hands each ``LogRecord`` to the pipeline, which writes
it as a JSON record in Rust (see ``docs/python.md`` for the fields), with
its level beside it so ``when`` conditions on ``level`` read nothing.
"""

from __future__ import annotations

import atexit
import logging as _logging
import os
from typing import Iterable, Optional, Union

from ._sinkbox import EmitError, Pipeline

__all__ = ["SinkboxHandler", "configure"]


class SinkboxHandler(_logging.Handler):
    """A ``logging.Handler`` that emits every record into ``pipeline``.

    ``flush()`` delivers what was emitted (within ``flush_timeout``
    seconds); ``close()`` flushes. The pipeline itself is shut down by
    whoever made it (``configure`` does it at exit).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        level: Union[int, str] = _logging.NOTSET,
        flush_timeout: float = 5.0,
    ) -> None:
        super().__init__(level)
        self.pipeline = pipeline
        self.flush_timeout = flush_timeout

    def emit(self, record: _logging.LogRecord) -> None:
        try:
            self.pipeline.emit_log_record(record)
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        try:
            self.pipeline.flush(self.flush_timeout)
        except EmitError:
            # A process forked from the pipeline's: nothing of its own to
            # deliver (the parent delivers its records).
            pass

    def close(self) -> None:
        try:
            self.flush()
        finally:
            super().close()


def configure(
    config: Optional[Union[str, os.PathLike]] = None,
    *,
    sinks: Optional[Iterable[str]] = None,
    level: Union[int, str] = _logging.INFO,
    capture_warnings: bool = False,
    shutdown_timeout: float = 30.0,
) -> Pipeline:
    """Sends the root logger's records to sinkbox, in one line.

    ``config`` is a ``sinkbox.toml`` path, or ``sinks`` a list of sink URIs
    (``["file:///var/log/app.ndjson"]``). The handler replaces any other
    sinkbox handler on the root logger; ``level`` is the root logger's
    level; ``capture_warnings`` routes ``warnings.warn`` through logging.
    At interpreter exit the pipeline delivers what is queued, waiting at
    most ``shutdown_timeout`` seconds. Returns the pipeline.
    """
    if (config is None) == (sinks is None):
        raise ValueError("give either config (a sinkbox.toml path) or sinks (sink URIs)")
    pipeline = Pipeline.from_config(os.fspath(config)) if config is not None else Pipeline(list(sinks or ()))
    root = _logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, SinkboxHandler):
            root.removeHandler(handler)
    root.addHandler(SinkboxHandler(pipeline))
    root.setLevel(level)
    _logging.captureWarnings(capture_warnings)
    atexit.register(pipeline.shutdown, shutdown_timeout)
    return pipeline
