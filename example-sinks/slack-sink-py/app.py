"""Posts the warnings and errors of each batch to a Slack incoming webhook,
as one message per batch, over the host's wasi:http.

The webhook URL's secret part stays with the operator: the sink's `url`
holds the placeholder `${secret:NAME}`, and the host fills it in for the
`http_allow` entry that names it. The sink never sees the value.

Options:
  url        the webhook URL, such as
             https://hooks.slack.com/services/${secret:slack} (required; it
             must be in the sink's http_allow)
  min_level  lowest level posted: debug, info, warn, error (default: warn)
  max_lines  most records listed in one message (default: 20); the rest are
             counted in a last line

Outcomes: 2xx accepted; 429 and 5xx retryable (Slack's rate limit); any
other status rejected with Slack's answer (`invalid_payload`, `no_service`),
so the batch is dead-lettered; a request the host's grant refuses is
rejected too.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, outgoing_handler, streams
from wit_world.imports import sinkbox_sink_types as types
from wit_world.imports import wasi_http_types as http

OPTIONS = ("url", "min_level", "max_lines")
LEVELS = {"trace": 0, "debug": 1, "info": 2, "warn": 3, "warning": 3,
          "error": 4, "fatal": 4, "critical": 4}


def post_json(url, payload):
    """POSTs `payload` and returns (status, Retry-After in seconds or None,
    body text). Raises RuntimeError with the wasi:http error when no answer
    came."""
    if url.startswith("https://"):
        scheme, rest = http.Scheme_Https(), url[len("https://"):]
    elif url.startswith("http://"):
        scheme, rest = http.Scheme_Http(), url[len("http://"):]
    else:
        raise ValueError(f"`{url}` does not start with http:// or https://")
    authority, slash, path = rest.partition("/")
    request = http.OutgoingRequest(
        http.Fields.from_list([("content-type", b"application/json")]))
    request.set_method(http.Method_Post())
    request.set_scheme(scheme)
    request.set_authority(authority)
    request.set_path_with_query(slash + path)
    body = request.body()
    pending = outgoing_handler.handle(request, None)
    data = payload.encode("utf-8")
    # The stream is a child of the body: dropped (`with`) before `finish`.
    with body.write() as stream:
        try:
            for start in range(0, len(data), 4096):
                stream.blocking_write_and_flush(data[start:start + 4096])
        except Err:
            pass  # the host gave up on the request; its reason comes below
    http.OutgoingBody.finish(body, None)
    while True:
        answer = pending.get()
        if answer is not None:
            break
        pending.subscribe().block()
    if isinstance(answer, Err) or isinstance(answer.value, Err):
        code = answer.value if isinstance(answer, Err) else answer.value.value
        raise RuntimeError(type(code).__name__.replace("ErrorCode_", ""))
    response = answer.value.value
    status = response.status()
    retry_after = None
    for value in response.headers().get("retry-after"):
        try:
            retry_after = int(value.decode("ascii").strip())
        except ValueError:
            pass
    incoming = response.consume()
    chunks = []
    with incoming.stream() as reader:
        while True:
            try:
                chunks.append(reader.blocking_read(65536))
            except Err as err:
                if isinstance(err.value, streams.StreamError_Closed):
                    break
                raise RuntimeError("reading the answer failed")
    http.IncomingBody.finish(incoming)
    return status, retry_after, b"".join(chunks).decode("utf-8", "replace")


class Slack:
    def __init__(self, config):
        unknown = sorted(k for k in config if k not in OPTIONS)
        if unknown:
            raise Err(f"unknown option(s) {unknown}; valid options: {list(OPTIONS)}")
        if "url" not in config:
            raise Err("`url` is required: the webhook URL, such as "
                      "https://hooks.slack.com/services/${secret:slack}")
        self.url = config["url"]
        level = config.get("min_level", "warn").lower()
        if level not in LEVELS:
            raise Err(f"min_level `{level}` is not one of debug, info, warn, error")
        self.min_level = LEVELS[level]
        try:
            self.max_lines = int(config.get("max_lines", "20"))
        except ValueError:
            raise Err("max_lines must be a whole number, such as 20")
        self.posted = 0

    def message(self, batch):
        picked = []
        for raw in batch.records.split(b"\n"):
            if not raw:
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            level = str(record.get("level", "")).lower()
            if LEVELS.get(level, -1) >= self.min_level:
                picked.append((level, str(record.get("message", record.get("msg", raw.decode("utf-8", "replace"))))))
        if not picked:
            return None
        lines = [f"*{len(picked)} record(s) at {['trace','debug','info','warn','error'][self.min_level]} or above*"]
        for level, text in picked[: self.max_lines]:
            lines.append(f"• `{level}` {text[:300]}")
        if len(picked) > self.max_lines:
            lines.append(f"… and {len(picked) - self.max_lines} more")
        return json.dumps({"text": "\n".join(lines)})

    def write(self, batch):
        payload = self.message(batch)
        if payload is None:
            return types.WriteOutcome_Accepted()
        try:
            status, retry_after, text = post_json(self.url, payload)
        except RuntimeError as err:
            reason = str(err)
            if reason in ("HttpRequestDenied", "DestinationIpProhibited", "ConnectionLimitReached"):
                return types.WriteOutcome_Rejected(f"the host refused the request: {reason}")
            return types.WriteOutcome_Retryable(f"no answer from Slack: {reason}")
        if 200 <= status < 300:
            self.posted += 1
            return types.WriteOutcome_Accepted()
        if status == 429 and retry_after is not None:
            # Slack says when to come back; the host waits at least that.
            return types.WriteOutcome_RetryAfter(
                types.RetryAfter(f"HTTP 429: {text[:200]}", retry_after * 1000))
        if status == 429 or status >= 500:
            return types.WriteOutcome_Retryable(f"HTTP {status}: {text[:200]}")
        return types.WriteOutcome_Rejected(f"HTTP {status}: {text[:200]}")

    def flush(self):
        host.log(types.Level.INFO, f"posted {self.posted} message(s)")
        return types.FlushOutcome_Done()


STATE = {}


class Sink(exports.Sink):
    def start(self, config):
        STATE["sink"] = Slack(dict(config))

    def write(self, batch):
        return STATE["sink"].write(batch)

    def flush(self):
        return STATE["sink"].flush()

    def stop(self):
        pass

    def health(self):
        return types.HealthStatus_Healthy()
