"""A sink that redacts secrets from every record and writes the result to
its granted directory.

Options (all optional):
  fields        comma-separated field names to mask, matched case-insensitively
                at any depth (default: password,passwd,secret,token,api_key,authorization)
  mask          what replaces a secret (default: [REDACTED])
  redact_cards  "true" (default) or "false": mask card numbers found in strings
  path          the output file (default: /data/redacted.ndjson)

A record that is not a JSON object is refused on its own (contract 0.2's
per-record answer: the host dead-letters it, reason "not a JSON object") and
counted as malformed; a batch with no usable record at all is rejected.
Counts are reported through the host log on every flush.
"""

import json
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

OPTIONS = ("fields", "mask", "redact_cards", "path")
DEFAULT_FIELDS = "password,passwd,secret,token,api_key,authorization"
# 13 to 19 digits, optionally separated by single spaces or dashes.
CARD = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")


def luhn_ok(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


class Redactor:
    def __init__(self, config):
        unknown = sorted(k for k in config if k not in OPTIONS)
        if unknown:
            raise Err(f"unknown option(s) {unknown}; valid options: {list(OPTIONS)}")
        self.fields = {
            f.strip().lower()
            for f in config.get("fields", DEFAULT_FIELDS).split(",")
            if f.strip()
        }
        self.mask = config.get("mask", "[REDACTED]")
        cards = config.get("redact_cards", "true")
        if cards not in ("true", "false"):
            raise Err(f"redact_cards = `{cards}`: expected true or false")
        self.cards = cards == "true"
        self.path = config.get("path", "/data/redacted.ndjson")
        try:
            self.out = open(self.path, "a", encoding="utf-8")
        except OSError as err:
            raise Err(
                f"cannot open `{self.path}`: {err}; grant the sink a directory "
                f'(grant = {{ path = "..." }}) and point `path` inside it'
            )
        self.records = self.fields_masked = self.cards_masked = self.malformed = 0

    def card(self, match):
        digits = re.sub(r"[ -]", "", match.group(0))
        if luhn_ok(digits):
            self.cards_masked += 1
            return self.mask
        return match.group(0)

    def redact(self, value):
        if isinstance(value, dict):
            out = {}
            for key, inner in value.items():
                if key.lower() in self.fields:
                    self.fields_masked += 1
                    out[key] = self.mask
                else:
                    out[key] = self.redact(inner)
            return out
        if isinstance(value, list):
            return [self.redact(inner) for inner in value]
        if isinstance(value, str) and self.cards:
            return CARD.sub(self.card, value)
        return value

    def write(self, batch):
        lines = []
        refused = []
        index = 0
        for raw in batch.records.split(b"\n"):
            if not raw:
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                refused.append(types.ResultRange(
                    start=index, end=index + 1,
                    outcome=types.RecordResult_Rejected("not a JSON object")))
            else:
                lines.append(
                    json.dumps(self.redact(record), ensure_ascii=False, separators=(",", ":"))
                )
            index += 1
        self.malformed += len(refused)
        if not lines and refused:
            return types.WriteOutcome_Rejected(
                f"none of the {len(refused)} record(s) is a JSON object"
            )
        try:
            for line in lines:
                self.out.write(line)
                self.out.write("\n")
        except OSError as err:
            return types.WriteOutcome_Retryable(f"cannot write `{self.path}`: {err}")
        self.records += len(lines)
        if refused:
            return types.WriteOutcome_PerRecord(
                types.RecordResults(ranges=refused, retry_after_ms=None, warning=None))
        return types.WriteOutcome_Accepted()

    def flush(self):
        try:
            self.out.flush()
        except OSError as err:
            return types.FlushOutcome_Retryable(f"cannot flush `{self.path}`: {err}")
        host.log(
            types.Level.INFO,
            f"redacted {self.fields_masked} field(s) and {self.cards_masked} card number(s) "
            f"in {self.records} record(s); {self.malformed} malformed record(s) refused",
        )
        return types.FlushOutcome_Done()

    def stop(self):
        if not self.out.closed:
            self.out.flush()
            self.out.close()


# componentize-py calls the methods of this class; the redactor lives in a
# module global because `start` creates it.
STATE = {}


class Sink(exports.Sink):
    def start(self, config):
        STATE["sink"] = Redactor(dict(config))

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
