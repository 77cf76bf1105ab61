"""{{name}}: a sinkbox sink that posts every batch to a URL as one JSON
array, over the host's wasi:http. It reaches only what the operator granted
(`http_allow`); headers the operator injects (secrets among them) are added
by the host and never seen here. Replace the body or the answers with what
your destination expects.

Options (the sink's `config` table, or `--config key=value`):
  url   where batches go (required; it must be in http_allow)

Answers: 2xx accepted; 408, 429 and 5xx retryable (after the server's
Retry-After, when it sends one); any other status rejected with the
server's answer (the batch is dead-lettered); a request the grant refuses
is rejected too.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, outgoing_handler, streams
from wit_world.imports import sinkbox_sink_types as types
from wit_world.imports import wasi_http_types as http

OPTIONS = ("url",)
REFUSED_BY_HOST = ("HttpRequestDenied", "DestinationIpProhibited", "ConnectionLimitReached")


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


class Poster:
    def __init__(self, config):
        unknown = sorted(k for k in config if k not in OPTIONS)
        if unknown:
            raise Err(f"unknown option(s) {unknown}; valid options: {list(OPTIONS)}")
        if "url" not in config:
            raise Err("`url` is required: where batches are posted")
        self.url = config["url"]
        self.posted = 0

    def write(self, batch):
        records = [r for r in batch.records.split(b"\n") if r]
        payload = "[" + ",".join(r.decode("utf-8") for r in records) + "]"
        try:
            status, retry_after, text = post_json(self.url, payload)
        except RuntimeError as err:
            if str(err) in REFUSED_BY_HOST:
                return types.WriteOutcome_Rejected(f"the host refused the request: {err}")
            return types.WriteOutcome_Retryable(f"no answer: {err}")
        reason = f"HTTP {status}: {text[:200]}"
        if 200 <= status < 300:
            self.posted += len(records)
            return types.WriteOutcome_Accepted()
        if status in (408, 429) or status >= 500:
            if retry_after is not None:
                return types.WriteOutcome_RetryAfter(types.RetryAfter(reason, retry_after * 1000))
            return types.WriteOutcome_Retryable(reason)
        return types.WriteOutcome_Rejected(reason)

    def flush(self):
        host.log(types.Level.INFO, f"posted {self.posted} record(s)")
        return types.FlushOutcome_Done()


STATE = {}


class Sink(exports.Sink):
    def start(self, config):
        STATE["sink"] = Poster(dict(config))

    def write(self, batch):
        return STATE["sink"].write(batch)

    def flush(self):
        return STATE["sink"].flush()

    def stop(self):
        pass

    def health(self):
        return types.HealthStatus_Healthy()
