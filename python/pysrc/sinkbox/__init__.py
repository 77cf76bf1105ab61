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

import atexit as _atexit

from ._sinkbox import ConfigError, EmitError, Pipeline, __version__, shutdown_all
from .logging import SinkboxHandler, configure

#: How long interpreter exit waits for pipelines to deliver what they hold.
EXIT_TIMEOUT = 30.0


def _shutdown_at_exit() -> None:
    shutdown_all(EXIT_TIMEOUT)


# Records emitted just before the interpreter exits are delivered: every
# pipeline still running is shut down at exit (after `configure`'s own
# handler, which atexit runs first).
_atexit.register(_shutdown_at_exit)


#: How long a terminated `multiprocessing` worker spends delivering.
TERMINATE_TIMEOUT = 5.0


def _deliver_then_die(signum: int, _frame: object) -> None:
    import os
    import signal

    shutdown_all(TERMINATE_TIMEOUT)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _watch_multiprocessing_children() -> None:
    # A `multiprocessing` child (fork start method) leaves through
    # `os._exit`, skipping atexit; its finalizers run instead. A pipeline
    # the child used (made again at its first emit) is shut down there.
    try:
        from multiprocessing import util
    except ImportError:  # pragma: no cover - a Python without multiprocessing
        return

    def in_child(_module: object) -> None:
        util.Finalize(None, _shutdown_at_exit, exitpriority=0)
        # `Pool.terminate()` (what `with Pool(...)` does at its end) stops
        # workers with SIGTERM, which runs no exit handler: deliver first,
        # then die of the signal as before. A handler the application set
        # is left alone.
        import signal

        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _deliver_then_die)

    import sys

    util.register_after_fork(sys.modules[__name__], in_child)


_watch_multiprocessing_children()

__all__ = [
    "ConfigError",
    "EmitError",
    "Pipeline",
    "SinkboxHandler",
    "configure",
    "shutdown_all",
    "__version__",
]
