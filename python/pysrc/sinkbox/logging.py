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

from ._sinkbox import Pipeline

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

    @property
    def pipeline(self) -> Pipeline:
        """The pipeline records go to."""
        return self._pipeline

    @pipeline.setter
    def pipeline(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._emit_log_record = pipeline.emit_log_record

    def handle(self, record: _logging.LogRecord) -> Union[bool, _logging.LogRecord]:
        # The pipeline takes records from any thread at once, so the
        # handler's lock (which ``Handler.handle`` holds around ``emit``)
        # is not taken: one call less per record, and no thread waits for
        # another's record to be written.
        if self.filters:
            rv = self.filter(record)
            if not rv:
                return rv
            if isinstance(rv, _logging.LogRecord):  # a Python 3.12+ filter may replace it
                record = rv
        try:
            self._emit_log_record(record)
        except Exception:
            self.handleError(record)
        return True

    def emit(self, record: _logging.LogRecord) -> None:
        try:
            self._emit_log_record(record)
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self._pipeline.flush(self.flush_timeout)

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
