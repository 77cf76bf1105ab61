"""sinkbox for Python applications: the sinkbox runtime in process.

Every native sink, ``when`` and ``route``, the disk buffer and sandboxed
(wasm) sinks work exactly as from the ``sinkbox`` CLI; records are written
as JSON in Rust and delivered on the runtime's own threads.

    import sinkbox
    pipeline = sinkbox.Pipeline(["file:///var/log/app.ndjson"])
    pipeline.emit({"message": "hello", "level": "info"})
    pipeline.shutdown()

The ``logging`` front end is ``sinkbox.logging.SinkboxHandler``, and
``sinkbox.configure(...)`` installs it on the root logger in one line.
"""

from ._sinkbox import ConfigError, EmitError, Pipeline, __version__
from .logging import SinkboxHandler, configure

__all__ = [
    "ConfigError",
    "EmitError",
    "Pipeline",
    "SinkboxHandler",
    "configure",
    "__version__",
]
