// The package's JavaScript API over the wasm-bindgen glue. Everything a
// caller can pass is checked here, objects become JSON, answers come back as
// objects, and nothing throws: a wrong argument, a module that is not loaded
// yet or a trap inside it is an error answer, `{allowed: false, error}`.
//
// The glue (`portcullis-glue`, wasm-bindgen's bundler output) is bundled in
// by the build; the WebAssembly bytes come from the entry that creates the
// API (inlined in the npm package, fetched by the checker page).
import * as glue from 'portcullis-glue';

const VERSION = typeof __PORTCULLIS_VERSION__ === 'string' ? __PORTCULLIS_VERSION__ : '';

function errorAnswer(code, message) {
  return { allowed: false, error: { code, message } };
}

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** JSON text of a caller's object, or an error answer saying why it has none. */
function toJson(what, value) {
  try {
    const text = JSON.stringify(value);
    if (typeof text !== 'string') return { error: errorAnswer('invalid-argument', `${what}: ${describe(value)} has no JSON form`) };
    return { text };
  } catch (e) {
    return { error: errorAnswer('invalid-argument', `${what} cannot be written as JSON: ${e && e.message ? e.message : e}`) };
  }
}

/** Settings as JSON text: an object, JSON text, or nothing. */
function settingsText(fn, settings) {
  if (settings === undefined || settings === null) return { text: '' };
  if (typeof settings === 'string') return { text: settings };
  if (typeof settings === 'object') return toJson(`${fn}: settings`, settings);
  return {
    error: errorAnswer('invalid-argument',
      `${fn}: settings must be a settings object (or its JSON text), got ${describe(settings)}`),
  };
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    return errorAnswer('internal-error', `the module answered something that is not JSON: ${e.message}`);
  }
}

/** Base64 to bytes without Buffer or atob being required. */
export function decodeBase64(text) {
  if (typeof Buffer === 'function') return new Uint8Array(Buffer.from(text, 'base64'));
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * The API. `defaultBytes` returns the module's bytes when nothing else is
 * given to `init` (null when the entry has none).
 */
export function makeApi(defaultBytes) {
  let compiled = null; // WebAssembly.Module
  let instance = null;
  let pending = null;
  let lastFailure = '';

  function imports(module) {
    const out = {};
    for (const imp of WebAssembly.Module.imports(module)) {
      (out[imp.module] ||= {})[imp.name] = glue[imp.name];
    }
    return out;
  }

  function start(module, inst) {
    glue.__wbg_set_wasm(inst.exports);
    if (typeof inst.exports.__wbindgen_start === 'function') inst.exports.__wbindgen_start();
    compiled = module;
    instance = inst;
  }

  /** Instantiates synchronously; false where the platform refuses (large modules on a browser's main thread). */
  function startSync() {
    try {
      if (!compiled) {
        const bytes = defaultBytes ? defaultBytes() : null;
        if (!bytes) return false;
        compiled = new WebAssembly.Module(bytes);
      }
      start(compiled, new WebAssembly.Instance(compiled, imports(compiled)));
      return true;
    } catch (e) {
      lastFailure = e && e.message ? e.message : String(e);
      return false;
    }
  }

  async function load(source) {
    let module;
    if (source instanceof WebAssembly.Module) {
      module = source;
    } else {
      let src = await source;
      if (typeof src === 'string' || src instanceof URL) src = await fetch(src);
      if (typeof Response === 'function' && src instanceof Response) {
        if (!src.ok) throw new Error(`the WebAssembly module could not be loaded: HTTP ${src.status} ${src.url}`);
        // streaming compile needs the wasm media type; otherwise read the body first
        const streaming = typeof WebAssembly.compileStreaming === 'function'
          && (src.headers.get('content-type') || '').startsWith('application/wasm');
        module = streaming ? await WebAssembly.compileStreaming(src) : await WebAssembly.compile(await src.arrayBuffer());
      } else {
        module = await WebAssembly.compile(src);
      }
    }
    start(module, await WebAssembly.instantiate(module, imports(module)));
  }

  /**
   * Loads the module. Optional in Node and workers (the first call loads it);
   * in a browser page, await it once before the first check.
   */
  function init(options) {
    if (instance) return Promise.resolve();
    if (!pending) {
      const source = options && typeof options === 'object' && 'wasm' in options ? options.wasm : null;
      pending = (async () => {
        if (source !== null && source !== undefined) return load(source);
        const bytes = defaultBytes ? defaultBytes() : null;
        if (!bytes) throw new Error('no WebAssembly module was given: pass init({wasm: url, Response, bytes or WebAssembly.Module})');
        return load(bytes);
      })().catch((e) => {
        pending = null;
        lastFailure = e && e.message ? e.message : String(e);
        throw new Error(`portcullis: ${lastFailure}`);
      });
    }
    return pending;
  }

  function ready(fn) {
    if (instance || startSync()) return null;
    return errorAnswer('not-initialised',
      `${fn}: the WebAssembly module is not loaded yet: \`await init()\` once before the first call`
      + (lastFailure ? ` (${lastFailure})` : ''));
  }

  /** Runs one call into the module; a trap resets it so the next call starts clean. */
  function guarded(fn, body) {
    const notReady = ready(fn);
    if (notReady) return notReady;
    try {
      return body();
    } catch (e) {
      // growing by nothing detaches the old memory's buffer, so the glue's
      // cached views of it are dropped rather than reused on the new instance
      try { instance.exports.memory.grow(0); } catch { /* already unusable */ }
      instance = null;
      return errorAnswer('internal-error', `${fn}: the module failed (${e && e.message ? e.message : e}); `
        + 'it was reset and the next call starts afresh');
    }
  }

  function check(yaml, settings) {
    if (typeof yaml !== 'string') {
      return errorAnswer('invalid-argument', `check: the first argument must be the YAML text (a string), got ${describe(yaml)}`);
    }
    const s = settingsText('check', settings);
    if (s.error) return s.error;
    return guarded('check', () => parse(glue.checkYaml(yaml, s.text)));
  }

  function evaluate(input, settings) {
    let text;
    if (typeof input === 'string') {
      text = input;
    } else if (input !== null && typeof input === 'object') {
      const j = toJson('evaluate: input', input);
      if (j.error) return j.error;
      text = j.text;
    } else {
      return errorAnswer('invalid-argument',
        `evaluate: the input must be an object or its JSON text, got ${describe(input)}`);
    }
    const s = settingsText('evaluate', settings);
    if (s.error) return s.error;
    return guarded('evaluate', () => parse(s.text ? glue.evaluateWith(text, s.text) : glue.evaluate(text)));
  }

  function applyFixes(yaml, findings) {
    if (typeof yaml !== 'string') {
      return errorAnswer('invalid-argument', `applyFixes: the first argument must be the YAML text (a string), got ${describe(yaml)}`);
    }
    // a whole report is accepted for its findings
    const list = findings && !Array.isArray(findings) && Array.isArray(findings.findings) ? findings.findings : findings;
    if (!Array.isArray(list)) {
      return errorAnswer('invalid-argument', `applyFixes: the second argument must be the findings (an array), got ${describe(findings)}`);
    }
    const j = toJson('applyFixes: findings', list);
    if (j.error) return j.error;
    return guarded('applyFixes', () => parse(glue.applyFixes(yaml, j.text)));
  }

  function rules() {
    return guarded('rules', () => parse(glue.rules()));
  }

  function version() {
    if (VERSION) return VERSION;
    const notReady = ready('version');
    if (notReady) return '';
    try {
      return glue.version();
    } catch {
      return '';
    }
  }

  /** @deprecated `check` answers an object; this answers the same as JSON text. */
  function checkYaml(yaml, settings) {
    return JSON.stringify(check(yaml, settings));
  }

  return { init, check, checkYaml, evaluate, applyFixes, rules, version };
}
