// Runs the rules off the main thread, so typing stays smooth on large
// manifests. The module is the npm package's API over the same glue; its
// bytes are the page's own cached portcullis.wasm, compiled while streaming.
import { makeApi } from '../../bindings/web/js/api.js';

const api = makeApi(null);
const ready = api.init({ wasm: new URL('./portcullis.wasm', self.location.href) });

self.onmessage = async (event) => {
  const { id, type } = event.data;
  try {
    await ready;
    if (type === 'rules') {
      self.postMessage({ id, catalogue: api.rules(), version: api.version() });
    } else if (type === 'check') {
      const start = performance.now();
      const result = api.check(event.data.yaml, event.data.settings);
      self.postMessage({ id, result, checkMs: performance.now() - start });
    } else if (type === 'fix') {
      self.postMessage({ id, result: api.applyFixes(event.data.yaml, event.data.findings) });
    }
  } catch (err) {
    self.postMessage({ id, failure: String(err && err.message ? err.message : err) });
  }
};
