// Builds sink.js into {{name}}.wasm, a component for the `{{world}}` world
// of the sinkbox contract in wit/ (componentize-js's JS API).
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';

const { component } = await componentize({
  sourcePath: 'sink.js',
  witPath: 'wit',
  worldName: '{{world}}',
  // sinkbox calls a sink synchronously: no event loop, so no fetch.
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile('{{name}}.wasm', component);
console.log('wrote {{name}}.wasm');
