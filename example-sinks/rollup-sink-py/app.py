"""Rolls records up into per-minute counts by level and by one configured
field, and writes the summary as JSON to the granted directory on every flush
and on stop: the Python twin of `rollup-sink` (Rust) and `rollup-sink-js`,
with the same options and byte-for-byte the same output.

Options (all optional): by (default: route), time_field (an ISO-8601 time,
default: ts), path (inside the grant, default: /data/summary.json).

A record that is not a JSON object is counted as malformed and skipped; a
batch with no usable record at all is rejected (the host dead-letters it).
"""

import json
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

OPTIONS = ("by", "time_field", "path")
MINUTE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")


def minute_of(time):
    if isinstance(time, str) and MINUTE.match(time):
        return time[:16]
    return "unknown"


def text(value):
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Rollup:
    def __init__(self, config):
        unknown = sorted(k for k in config if k not in OPTIONS)
        if unknown:
            raise Err(f"unknown option(s) {unknown}; valid options: {list(OPTIONS)}")
        self.by = config.get("by", "route")
        self.time_field = config.get("time_field", "ts")
        self.path = config.get("path", "/data/summary.json")
        self.minutes = {}
        self.records = self.malformed = 0
        try:
            self.write_summary()
        except OSError as err:
            raise Err(
                f"cannot write `{self.path}`: {err}; grant the sink a directory "
                f'(grant = {{ path = "..." }}) for its summary'
            )

    def write_summary(self):
        summary = {
            "by": self.by,
            "malformed": self.malformed,
            "minutes": self.minutes,
            "records": self.records,
        }
        with open(self.path, "w", encoding="utf-8") as out:
            out.write(json.dumps(summary, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
            out.write("\n")

    def write(self, batch):
        usable = malformed = 0
        for raw in batch.records.split(b"\n"):
            if not raw:
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                malformed += 1
                continue
            usable += 1
            minute = self.minutes.setdefault(
                minute_of(record.get(self.time_field)), {"levels": {}, "values": {}}
            )
            level = record.get("level")
            level = level.lower() if isinstance(level, str) else "none"
            minute["levels"][level] = minute["levels"].get(level, 0) + 1
            value = text(record.get(self.by))
            minute["values"][value] = minute["values"].get(value, 0) + 1
        self.malformed += malformed
        self.records += usable
        if usable == 0 and malformed:
            return types.WriteOutcome_Rejected(
                f"none of the {malformed} record(s) is a JSON object"
            )
        return types.WriteOutcome_Accepted()

    def flush(self):
        try:
            self.write_summary()
        except OSError as err:
            return types.FlushOutcome_Retryable(f"cannot write {self.path}: {err}")
        host.log(
            types.Level.INFO,
            f"summarised {self.records} record(s) over {len(self.minutes)} minute(s); "
            f"{self.malformed} malformed record(s) skipped",
        )
        return types.FlushOutcome_Done()

    def stop(self):
        try:
            self.write_summary()
        except OSError as err:
            host.log(types.Level.WARN, f"cannot write {self.path} on stop: {err}")


STATE = {}


class Sink(exports.Sink):
    def start(self, config):
        STATE["sink"] = Rollup(dict(config))

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
