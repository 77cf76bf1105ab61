// {{name}}: a sinkbox sink. It appends every record that is a JSON object
// to a file in the directory the operator granted it, one line each, and
// refuses any other record on its own (the host dead-letters it with the
// reason). Replace `write` with what your sink does.
//
// Options (the sink's `config` table, or `--config key=value`):
//   path   the output file, inside the grant (default: /data/out.ndjson)

import { log } from 'sinkbox:sink/host@0.2.0';
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

const OPTIONS = ['path'];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

let state = null;

// `/data/out.ndjson` is `out.ndjson` in the directory granted at `/data`.
function openFile(path) {
  const grant = getDirectories().find(([, mount]) => path.startsWith(`${mount.replace(/\/$/, '')}/`));
  if (grant === undefined) {
    throw `cannot open \`${path}\`: it is not inside a granted directory; grant the sink one and point \`path\` inside it`;
  }
  const [dir, mount] = grant;
  const file = dir.openAt({}, path.slice(mount.replace(/\/$/, '').length + 1), { create: true }, { write: true });
  return { file, offset: file.stat().size };
}

export const sink = {
  start(config) {
    const options = Object.fromEntries(config);
    const unknown = Object.keys(options).filter((k) => !OPTIONS.includes(k));
    if (unknown.length) {
      throw `unknown option(s) ${JSON.stringify(unknown)}; valid options: ${JSON.stringify(OPTIONS)}`;
    }
    const path = options.path || '/data/out.ndjson';
    state = { path, ...openFile(path), written: 0 };
  },

  write(batch) {
    const lines = [];
    const refused = [];
    const records = decoder.decode(batch.records).split('\n').filter((line) => line.length);
    records.forEach((record, index) => {
      if (record.startsWith('{')) {
        lines.push(record);
      } else {
        refused.push({ start: index, end: index + 1, outcome: { tag: 'rejected', val: 'not a JSON object' } });
      }
    });
    if (lines.length) {
      const bytes = encoder.encode(`${lines.join('\n')}\n`);
      try {
        let written = 0;
        while (written < bytes.length) {
          written += Number(state.file.write(bytes.subarray(written), state.offset + BigInt(written)));
        }
      } catch (err) {
        return { tag: 'retryable', val: `cannot write \`${state.path}\`: ${err?.payload ?? err}` };
      }
      state.offset += BigInt(bytes.length);
      state.written += lines.length;
    }
    if (refused.length) {
      return { tag: 'per-record', val: { ranges: refused, retryAfterMs: undefined, warning: undefined } };
    }
    return { tag: 'accepted' };
  },

  flush() {
    log('info', `${state ? state.written : 0} record(s) so far in ${state ? state.path : '-'}`);
    return { tag: 'done' };
  },

  stop() {},

  health() {
    return { tag: 'healthy' };
  },
};
