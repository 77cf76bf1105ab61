// Redacts secrets from every record and writes the result to the granted
// directory: the JavaScript twin of `redact-sink` (Rust) and
// `redact-sink-py`, with the same options and the same output.
//
// Options (all optional):
//   fields        comma-separated names masked at any depth, case-insensitively
//                 (default: password,passwd,secret,token,api_key,authorization)
//   mask          what replaces a secret (default: [REDACTED])
//   redact_cards  "true" (default) or "false": mask Luhn-valid card numbers in strings
//   path          the output file, inside the grant (default: /data/redacted.ndjson)
//
// A record that is not a JSON object is refused on its own (contract 0.2's
// per-record answer: the host dead-letters it, reason "not a JSON object")
// and counted as malformed; a
// batch with no usable record at all is rejected (the host dead-letters it).

import { log } from 'sinkbox:sink/host@0.2.0';
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

const OPTIONS = ['fields', 'mask', 'redact_cards', 'path'];
const DEFAULT_FIELDS = 'password,passwd,secret,token,api_key,authorization';
// 13 to 19 digits, optionally separated by single spaces or dashes.
const CARD = /(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])/g;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

let state = null;

function luhnOk(digits) {
  let total = 0;
  for (let i = 0; i < digits.length; i += 1) {
    let n = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      n *= 2;
      if (n > 9) n -= 9;
    }
    total += n;
  }
  return total % 10 === 0;
}

function redact(value) {
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const [key, inner] of Object.entries(value)) {
      if (state.fields.has(key.toLowerCase())) {
        state.fieldsMasked += 1;
        out[key] = state.mask;
      } else {
        out[key] = redact(inner);
      }
    }
    return out;
  }
  if (typeof value === 'string' && state.cards) {
    return value.replace(CARD, (match) => {
      if (!luhnOk(match.replace(/[ -]/g, ''))) return match;
      state.cardsMasked += 1;
      return state.mask;
    });
  }
  return value;
}

export const sink = {
  start(config) {
    const options = Object.fromEntries(config);
    const unknown = Object.keys(options).filter((k) => !OPTIONS.includes(k)).sort();
    if (unknown.length > 0) {
      throw `unknown option(s) ${JSON.stringify(unknown)}; valid options: ${JSON.stringify(OPTIONS)}`;
    }
    const cards = options.redact_cards ?? 'true';
    if (cards !== 'true' && cards !== 'false') {
      throw `redact_cards = \`${cards}\`: expected true or false`;
    }
    const path = options.path ?? '/data/redacted.ndjson';
    const grant = getDirectories().find(([, mount]) => path.startsWith(`${mount.replace(/\/$/, '')}/`));
    if (grant === undefined) {
      throw `cannot open \`${path}\`: it is not inside a granted directory; grant the sink a directory (grant = { path = "..." }) and point \`path\` inside it`;
    }
    const [dir, mount] = grant;
    const file = dir.openAt({}, path.slice(mount.replace(/\/$/, '').length + 1), { create: true }, { write: true });
    state = {
      fields: new Set(
        (options.fields ?? DEFAULT_FIELDS).split(',').map((f) => f.trim().toLowerCase()).filter((f) => f !== ''),
      ),
      mask: options.mask ?? '[REDACTED]',
      cards: cards === 'true',
      path,
      file,
      offset: file.stat().size,
      records: 0,
      fieldsMasked: 0,
      cardsMasked: 0,
      malformed: 0,
    };
  },

  write(batch) {
    const lines = [];
    const refused = [];
    let index = 0;
    for (const line of decoder.decode(batch.records).split('\n')) {
      if (line === '') continue;
      let record;
      try {
        record = JSON.parse(line);
      } catch {
        record = undefined;
      }
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        refused.push({ start: index, end: index + 1, outcome: { tag: 'rejected', val: 'not a JSON object' } });
      } else {
        lines.push(JSON.stringify(redact(record)));
      }
      index += 1;
    }
    state.malformed += refused.length;
    if (lines.length === 0 && refused.length > 0) {
      return { tag: 'rejected', val: `none of the ${refused.length} record(s) is a JSON object` };
    }
    if (lines.length > 0) {
      const bytes = encoder.encode(`${lines.join('\n')}\n`);
      try {
        let written = 0;
        while (written < bytes.length) {
          written += Number(state.file.write(bytes.subarray(written), state.offset + BigInt(written)));
        }
        state.offset += BigInt(bytes.length);
      } catch (err) {
        return { tag: 'retryable', val: `cannot write \`${state.path}\`: ${err?.payload ?? err}` };
      }
    }
    state.records += lines.length;
    if (refused.length > 0) {
      return { tag: 'per-record', val: { ranges: refused, retryAfterMs: undefined, warning: undefined } };
    }
    return { tag: 'accepted' };
  },

  flush() {
    try {
      state.file.syncData();
    } catch (err) {
      return { tag: 'retryable', val: `cannot sync \`${state.path}\`: ${err?.payload ?? err}` };
    }
    log('info', `redacted ${state.fieldsMasked} field(s) and ${state.cardsMasked} card number(s) in ${state.records} record(s); ${state.malformed} malformed record(s) refused`);
    return { tag: 'done' };
  },

  stop() {},

  health() {
    return { tag: 'healthy' };
  },
};
