// A second, unrelated host: Node's own WebAssembly runs dist/portcullis.wasm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const bytes = readFileSync(new URL('../../dist/portcullis.wasm', import.meta.url));
const { instance } = await WebAssembly.instantiate(bytes, {});
const { memory, alloc, dealloc, evaluate, rules } = instance.exports;

function take(packed) {
  const ptr = Number(BigInt.asUintN(32, packed >> 32n));
  const len = Number(BigInt.asUintN(32, packed));
  const text = new TextDecoder().decode(new Uint8Array(memory.buffer, ptr, len));
  dealloc(ptr, len);
  return JSON.parse(text);
}

function check(input) {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
  const ptr = alloc(bytes.length);
  new Uint8Array(memory.buffer, ptr, bytes.length).set(bytes);
  const answer = take(evaluate(ptr, bytes.length));
  dealloc(ptr, bytes.length);
  return answer;
}

test('the module imports nothing', () => {
  assert.deepEqual(WebAssembly.Module.imports(new WebAssembly.Module(bytes)), []);
});

test('a NodePort Service is denied with a path and a fix', () => {
  const r = check(JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: 'shop' }, spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] } }));
  assert.equal(r.allowed, false);
  assert.equal(r.violations[0].rule, 'service-type-nodeport');
  assert.equal(r.violations[0].path, '/spec/type');
  assert.deepEqual(r.violations[0].fix[0], { op: 'replace', path: '/spec/type', value: 'ClusterIP' });
  assert.deepEqual(r.violations[0].object, { apiVersion: 'v1', kind: 'Service', namespace: 'shop', name: 'api' });
});

test('a ClusterIP Service is allowed', () => {
  const r = check(JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'api' }, spec: {} }));
  assert.equal(r.allowed, true);
  assert.equal(r.summary.objects, 1);
});

test('bad input is a JSON error with its position', () => {
  const r = check('{\n "kind": ');
  assert.equal(r.allowed, false);
  assert.equal(r.error.code, 'invalid-json');
  assert.equal(r.error.line, 2);
  assert.equal(check(new Uint8Array([0xff, 0xfe])).error.code, 'invalid-utf8');
  assert.equal(check(JSON.stringify({ objects: [], settings: { rules: { nope: 'deny' } } })).error.key, 'rules.nope');
});

test('rules() lists the catalogue', () => {
  const cat = take(rules());
  assert.ok(cat.rules.length >= 2);
  assert.ok(cat.rules.some((r) => r.id === 'service-type-loadbalancer'));
});
