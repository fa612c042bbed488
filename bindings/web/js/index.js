// The npm package's entry, the same for Node (ESM and CommonJS), bundlers and
// browsers: the module's bytes are inlined (portcullis_wasm.cjs, written by
// the build), so no bundler needs a loader or a plugin for `.wasm` files and
// every format shares that one copy.
import wasmBase64 from './portcullis_wasm.cjs';
import { makeApi, decodeBase64 } from './api.js';

const api = makeApi(() => decodeBase64(wasmBase64));

export const init = api.init;
export const check = api.check;
export const evaluate = api.evaluate;
export const applyFixes = api.applyFixes;
export const rules = api.rules;
export const version = api.version;
/** @deprecated use `check`, which answers an object */
export const checkYaml = api.checkYaml;
