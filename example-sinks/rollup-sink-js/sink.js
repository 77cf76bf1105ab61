// A sink that rolls records up into per-minute counts by level and by one
// configured field, and writes the summary as JSON to its granted directory
// on every flush and on stop.
//
// Options (all optional):
//   by          the field to count by (default: route)
//   time_field  the field holding an ISO-8601 time (default: ts)
//   path        the summary file, inside the grant (default: /data/summary.json)
//
// A record that is not a JSON object is counted as malformed and skipped; a
// batch with no usable record at all is rejected (the host dead-letters it).

import { log } from 'sinkbox:sink/host@0.2.0';
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

const OPTIONS = ['by', 'time_field', 'path'];
const decoder = new TextDecoder();
const encoder = new TextEncoder();

let state = null;

function count(table, key) {
  table[key] = (table[key] ?? 0) + 1;
}

// Objects with their keys in sorted order, so the output is byte-for-byte
// the same as the Rust and Python rollups'.
function sorted(value) {
  if (Array.isArray(value) || value === null || typeof value !== 'object') {
    return value;
  }
  const out = {};
  for (const key of Object.keys(value).sort()) {
    out[key] = sorted(value[key]);
  }
  return out;
}

function minuteOf(time) {
  // `2026-11-22T10:03:17Z` -> `2026-11-22T10:03`
  if (typeof time === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(time)) {
    return time.slice(0, 16);
  }
  return 'unknown';
}

function text(value) {
  if (value === undefined || value === null) return 'none';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function writeSummary() {
  const summary = sorted({
    by: state.by,
    malformed: state.malformed,
    minutes: state.minutes,
    records: state.records,
  });
  const bytes = encoder.encode(JSON.stringify(summary) + '\n');
  const file = state.dir.openAt({}, state.relative, { create: true, truncate: true }, { write: true });
  let written = 0n;
  while (written < BigInt(bytes.length)) {
    written += file.write(bytes.subarray(Number(written)), written);
  }
  file.syncData();
}

export const sink = {
  start(config) {
    const options = Object.fromEntries(config);
    const unknown = Object.keys(options).filter((k) => !OPTIONS.includes(k)).sort();
    if (unknown.length > 0) {
      throw `unknown option(s) ${JSON.stringify(unknown)}; valid options: ${JSON.stringify(OPTIONS)}`;
    }
    const path = options.path ?? '/data/summary.json';
    // The file must be inside a granted directory: find which one.
    const grant = getDirectories().find(([, mount]) => path.startsWith(`${mount.replace(/\/$/, '')}/`));
    if (grant === undefined) {
      throw `cannot write \`${path}\`: it is not inside a granted directory; grant the sink a directory (grant = { path = "..." }) for its summary`;
    }
    const [dir, mount] = grant;
    state = {
      by: options.by ?? 'route',
      timeField: options.time_field ?? 'ts',
      path,
      relative: path.slice(mount.replace(/\/$/, '').length + 1),
      dir,
      minutes: {},
      records: 0,
      malformed: 0,
    };
    try {
      writeSummary();
    } catch (err) {
      throw `cannot write \`${path}\`: ${err?.payload ?? err}`;
    }
  },

  write(batch) {
    const lines = decoder.decode(batch.records).split('\n');
    let usable = 0;
    let malformed = 0;
    for (const line of lines) {
      if (line === '') continue;
      let record;
      try {
        record = JSON.parse(line);
      } catch {
        record = undefined;
      }
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        malformed += 1;
        continue;
      }
      usable += 1;
      const minute = minuteOf(record[state.timeField]);
      const entry = (state.minutes[minute] ??= { levels: {}, values: {} });
      const level = typeof record.level === 'string' ? record.level.toLowerCase() : 'none';
      count(entry.levels, level);
      count(entry.values, text(record[state.by]));
    }
    state.malformed += malformed;
    state.records += usable;
    if (usable === 0 && malformed > 0) {
      return { tag: 'rejected', val: `none of the ${malformed} record(s) is a JSON object` };
    }
    return { tag: 'accepted' };
  },

  flush() {
    try {
      writeSummary();
    } catch (err) {
      return { tag: 'retryable', val: `cannot write ${state.path}: ${err?.payload ?? err}` };
    }
    log('info', `summarised ${state.records} record(s) over ${Object.keys(state.minutes).length} minute(s); ${state.malformed} malformed record(s) skipped`);
    return { tag: 'done' };
  },

  stop() {
    if (state !== null) {
      try {
        writeSummary();
      } catch (err) {
        log('warn', `cannot write ${state.path} on stop: ${err?.payload ?? err}`);
      }
    }
  },

  health() {
    return { tag: 'healthy' };
  },
};
