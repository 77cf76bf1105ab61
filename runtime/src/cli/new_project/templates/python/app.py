"""{{name}}: a sinkbox sink. It appends every record that is a JSON object
to a file in the directory the operator granted it, one line each, and
refuses any other record on its own (the host dead-letters it with the
reason). Replace `write` with what your sink does.

Options (the sink's `config` table, or `--config key=value`):
  path   the output file, inside the grant (default: /data/out.ndjson)
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

OPTIONS = ("path",)


class Writer:
    def __init__(self, config):
        unknown = sorted(k for k in config if k not in OPTIONS)
        if unknown:
            raise Err(f"unknown option(s) {unknown}; valid options: {list(OPTIONS)}")
        self.path = config.get("path", "/data/out.ndjson")
        try:
            self.out = open(self.path, "ab")
        except OSError as err:
            raise Err(f"cannot open `{self.path}`: {err}; grant the sink a directory "
                      "and point `path` inside it")
        self.written = 0

    def write(self, batch):
        lines = []
        refused = []
        # One record per line, each one JSON value.
        for index, record in enumerate(r for r in batch.records.split(b"\n") if r):
            if record.startswith(b"{"):
                lines.append(record + b"\n")
            else:
                refused.append(types.ResultRange(
                    start=index, end=index + 1,
                    outcome=types.RecordResult_Rejected("not a JSON object")))
        try:
            self.out.write(b"".join(lines))
        except OSError as err:
            return types.WriteOutcome_Retryable(f"cannot write `{self.path}`: {err}")
        self.written += len(lines)
        if refused:
            return types.WriteOutcome_PerRecord(
                types.RecordResults(ranges=refused, retry_after_ms=None, warning=None))
        return types.WriteOutcome_Accepted()

    def flush(self):
        try:
            self.out.flush()
        except OSError as err:
            return types.FlushOutcome_Retryable(f"cannot flush `{self.path}`: {err}")
        host.log(types.Level.INFO, f"{self.written} record(s) so far in {self.path}")
        return types.FlushOutcome_Done()

    def stop(self):
        if not self.out.closed:
            self.out.close()


STATE = {}


class Sink(exports.Sink):
    def start(self, config):
        STATE["sink"] = Writer(dict(config))

    def write(self, batch):
        return STATE["sink"].write(batch)

    def flush(self):
        return STATE["sink"].flush()

    def stop(self):
        sink = STATE.get("sink")
        if sink is not None:
            sink.stop()

    def health(self):
        return types.HealthStatus_Healthy()
