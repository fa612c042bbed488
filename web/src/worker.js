// Runs the rules off the main thread, so typing stays smooth on large manifests.
import init, { checkYaml, rules, version } from './pkg/portcullis.js';

const ready = init();

self.onmessage = async (event) => {
  const { id, type } = event.data;
  try {
    await ready;
    if (type === 'rules') {
      self.postMessage({ id, catalogue: JSON.parse(rules()), version: version() });
    } else if (type === 'check') {
      const start = performance.now();
      const text = checkYaml(event.data.yaml, event.data.settings);
      const checkMs = performance.now() - start;
      self.postMessage({ id, result: JSON.parse(text), checkMs });
    }
  } catch (err) {
    self.postMessage({ id, failure: String(err && err.message ? err.message : err) });
  }
};
