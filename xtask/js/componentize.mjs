// Builds one JavaScript sink into a component with componentize-js's JS API
// (its `jco componentize` CLI fails here on a path look-up under Node 20).
// Usage: node componentize.mjs SOURCE.js WIT_DIR WORLD OUT.wasm
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';

const [sourcePath, witPath, worldName, out] = process.argv.slice(2);
const { component } = await componentize({
  sourcePath,
  witPath,
  worldName,
  // A sink has no network: leave the HTTP runtime out.
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile(out, component);
