// Posts every batch to a webhook as one JSON array, over the host's
// wasi:http: a generic "send my records to this URL" sink in JavaScript.
//
// sinkbox calls a sink's functions synchronously, and `fetch` answers with
// a promise that only an event loop can settle, so the sink drives
// `wasi:http/outgoing-handler` directly: build the request, stream the
// body, block on the answer. It reaches only what the operator granted
// (`http_allow`); headers the operator injects (`http_headers`, secrets
// among them) are added by the host and never seen here.
//
// Options:
//   url      where batches go (required; it must be in http_allow)
//   method   POST (default) or PUT
//
// Outcomes: 2xx accepted; 408, 429 and 5xx retryable (after the server's
// Retry-After, when it sends one: contract 0.2's `retry-after`); any other
// status rejected with the server's answer, so the batch is dead-lettered;
// a request the host's grant refuses is rejected too. A request that went
// out and timed out waiting for its answer is `indeterminate`: the server
// may have stored it, so the host sends it again and counts it apart.

import { log } from 'sinkbox:sink/host@0.2.0';
import { handle } from 'wasi:http/outgoing-handler@0.2.12';
import { Fields, OutgoingBody, OutgoingRequest } from 'wasi:http/types@0.2.12';

const OPTIONS = ['url', 'method'];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

let state = null;

/// POSTs `bytes` and returns { status, retryAfter (seconds or null), text };
/// throws an Error naming the wasi:http error code when no answer came.
function send(url, method, bytes) {
  const match = /^(https?):\/\/([^/]+)(\/.*)?$/.exec(url);
  if (!match) throw new Error(`\`${url}\` is not an http:// or https:// URL`);
  const request = new OutgoingRequest(
    Fields.fromList([['content-type', encoder.encode('application/json')]]),
  );
  request.setMethod({ tag: method === 'PUT' ? 'put' : 'post' });
  request.setScheme({ tag: match[1].toUpperCase() }); // WIT's cases: HTTP, HTTPS
  request.setAuthority(match[2]);
  request.setPathWithQuery(match[3] || '/');
  const body = request.body();
  const pending = handle(request, undefined);
  const stream = body.write();
  try {
    for (let start = 0; start < bytes.length; start += 4096) {
      stream.blockingWriteAndFlush(bytes.subarray(start, start + 4096));
    }
  } catch (_) {
    // The host gave up on the request (a body over its cap); why comes below.
  }
  // The stream is a child of the body: drop it before finishing the body.
  stream[Symbol.dispose]();
  OutgoingBody.finish(body, undefined);
  let answer = pending.get();
  while (answer === undefined) {
    pending.subscribe().block();
    answer = pending.get();
  }
  if (answer.tag === 'err' || answer.val.tag === 'err') {
    const code = answer.tag === 'err' ? answer.val : answer.val.val;
    throw new Error(code && code.tag ? code.tag : String(code));
  }
  const response = answer.val.val;
  const status = response.status();
  let retryAfter = null;
  for (const value of response.headers().get('retry-after')) {
    const seconds = Number.parseInt(decoder.decode(value), 10);
    if (Number.isFinite(seconds) && seconds >= 0) retryAfter = seconds;
  }
  const incoming = response.consume();
  const reader = incoming.stream();
  const chunks = [];
  for (;;) {
    try {
      chunks.push(reader.blockingRead(65536n));
    } catch (err) {
      if (err.payload && err.payload.tag === 'closed') break;
      throw new Error('reading the answer failed');
    }
  }
  reader[Symbol.dispose]();
  let text = '';
  for (const chunk of chunks) text += decoder.decode(chunk, { stream: true });
  return { status, retryAfter, text };
}

export const sink = {
  start(config) {
    const options = Object.fromEntries(config);
    const unknown = Object.keys(options).filter((k) => !OPTIONS.includes(k));
    if (unknown.length) {
      throw `unknown option(s) ${JSON.stringify(unknown)}; valid options: ${JSON.stringify(OPTIONS)}`;
    }
    if (!options.url) throw '`url` is required: where batches are posted';
    const method = (options.method || 'POST').toUpperCase();
    if (method !== 'POST' && method !== 'PUT') throw `method \`${method}\` is not POST or PUT`;
    state = { url: options.url, method, posted: 0 };
  },

  write(batch) {
    const records = decoder.decode(batch.records).split('\n').filter((line) => line.length);
    const body = encoder.encode(`[${records.join(',')}]`);
    let answer;
    try {
      answer = send(state.url, state.method, body);
    } catch (err) {
      const code = String(err.message || err);
      if (['HTTP-request-denied', 'destination-IP-prohibited', 'connection-limit-reached'].includes(code)) {
        return { tag: 'rejected', val: `the host refused the request: ${code}` };
      }
      if (['HTTP-response-timeout', 'connection-read-timeout'].includes(code)) {
        return { tag: 'indeterminate', val: `sent, and no answer came: ${code}` };
      }
      return { tag: 'retryable', val: `no answer: ${code}` };
    }
    const reason = `HTTP ${answer.status}: ${answer.text.slice(0, 200)}`;
    if (answer.status >= 200 && answer.status < 300) {
      state.posted += records.length;
      return { tag: 'accepted' };
    }
    if (answer.status === 408 || answer.status === 429 || answer.status >= 500) {
      if (answer.retryAfter !== null) {
        return { tag: 'retry-after', val: { reason, waitMs: BigInt(answer.retryAfter) * 1000n } };
      }
      return { tag: 'retryable', val: reason };
    }
    return { tag: 'rejected', val: reason };
  },

  flush() {
    log('info', `posted ${state ? state.posted : 0} record(s)`);
    return { tag: 'done' };
  },

  stop() {},

  health() {
    return { tag: 'healthy' };
  },
};
