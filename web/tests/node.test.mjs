// The npm package in Node, installed from its tarball: ESM and CommonJS give
// the findings each case states and the native answers, take JavaScript
// objects, and answer every wrong argument with an error answer instead of
// throwing or trapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { root, appWithPackage } from './pack.mjs';
// the one judge every JavaScript harness holds a module's answer to
import { judgeFindings, judgeReport } from '../../wasm-tests/node/judge.mjs';

const app = appWithPackage('node');
const { cases } = JSON.parse(readFileSync(join(root, 'target/web-cases.json'), 'utf8'));
// by name, as a user's code would: once through import, once through require
writeFileSync(join(app, 'esm.mjs'), "export * from 'portcullis';\n");
const esm = await import(pathToFileURL(join(app, 'esm.mjs')).href);
const cjs = createRequire(join(app, 'index.cjs'))('portcullis');

test('cases were exported', () => {
  assert.ok(cases.length > 0);
  assert.ok(cases.some((c) => c.yaml), 'rule cases carry their YAML');
});

test('every case: evaluate and check answer what the native core answers', () => {
  for (const c of cases) {
    // the input as JSON text and as an object give one answer
    const answer = esm.evaluate(c.input);
    judgeReport(c.name, c.expectation, answer);
    assert.deepEqual(answer, c.native, c.name);
    assert.deepEqual(cjs.evaluate(JSON.parse(c.input)), c.native, c.name);
    if (c.yaml === undefined) continue;
    const report = esm.check(c.yaml, c.settings);
    assert.equal(report.error, undefined, `${c.name}: ${JSON.stringify(report.error)}`);
    assert.deepEqual(report.errors, [], `${c.name}: case files parse`);
    judgeFindings(c.name, c.expectation, report.findings);
    assert.deepEqual(report, c.nativeYaml, c.name);
    // the YAML path finds what the JSON contract finds, each with a real line
    const count = (fs) => fs.filter((f) => f.rule === c.rule).length;
    assert.equal(count(report.findings), count([...answer.violations, ...answer.warnings]), c.name);
    const lines = c.yaml.split('\n').length;
    for (const f of report.findings) assert.ok(f.line >= 1 && f.line <= lines, `${c.name}: line ${f.line}`);
    // settings as JSON text still work, and the old name answers JSON text
    assert.deepEqual(cjs.check(c.yaml, JSON.stringify(c.settings)), c.nativeYaml, c.name);
    assert.deepEqual(JSON.parse(esm.checkYaml(c.yaml, c.settings)), c.nativeYaml, c.name);
  }
});

const SERVICE = 'apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: shop}\nspec:\n  type: NodePort  # why\n';

test('settings are JavaScript objects; the caller\'s settings are the ones used', () => {
  const on = esm.check(SERVICE);
  assert.ok(on.findings.some((f) => f.rule === 'service-type-nodeport'));
  const off = esm.check(SERVICE, { rules: { 'service-type-nodeport': 'off' } });
  assert.deepEqual(off.findings, on.findings.filter((f) => f.rule !== 'service-type-nodeport'));
  const strict = esm.check(SERVICE, { profile: 'strict' });
  assert.ok(strict.findings.length >= on.findings.length);
  const bad = esm.check(SERVICE, { profile: 'lenient' });
  assert.equal(bad.allowed, false);
  assert.equal(bad.error.code, 'invalid-settings');
  assert.match(bad.error.message, /profile/);
  const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' }, spec: { type: 'NodePort' } };
  assert.equal(esm.evaluate(service).summary.denied > 0, true);
  assert.equal(esm.evaluate(service, { rules: { 'service-type-nodeport': 'off' } }).violations
    .some((f) => f.rule === 'service-type-nodeport'), false);
});

test('applyFixes writes the fix into the text and keeps the comment', () => {
  const report = cjs.check(SERVICE);
  const out = cjs.applyFixes(SERVICE, report);
  assert.equal(out.text, SERVICE.replace('NodePort', 'ClusterIP'));
  assert.deepEqual(out.applied.length, report.findings.filter((f) => f.fix).length);
  // the edits, applied in order, give the same text
  let text = SERVICE;
  for (const e of out.edits) text = text.slice(0, e.from) + e.insert + text.slice(e.to);
  assert.equal(text, out.text);
  assert.equal(esm.check(out.text).findings.some((f) => f.rule === 'service-type-nodeport'), false);
});

test('no argument throws or traps: each wrong one is an error answer that names it', () => {
  const cyclic = {};
  cyclic.self = cyclic;
  const wrong = [undefined, null, 5, true, 10n, Symbol('s'), () => 1, [], {}, cyclic, new Date(0)];
  const calls = [];
  for (const api of [esm, cjs]) {
    for (const w of wrong) {
      calls.push(['check', () => api.check(w)]);
      calls.push(['check(settings)', () => api.check(SERVICE, w)]);
      calls.push(['evaluate', () => api.evaluate(w)]);
      calls.push(['evaluate(settings)', () => api.evaluate('{}', w)]);
      calls.push(['applyFixes', () => api.applyFixes(SERVICE, w)]);
      calls.push(['applyFixes(yaml)', () => api.applyFixes(w, [])]);
      calls.push(['checkYaml', () => JSON.parse(api.checkYaml(w, w))]);
    }
    calls.push(['evaluate(bad JSON)', () => api.evaluate('{"kind": ')]);
    calls.push(['check(lone surrogate)', () => api.check('kind: "\ud800"')]);
    calls.push(['applyFixes(garbage findings)', () => api.applyFixes(SERVICE, [1, null, { document: 0, fix: 7 }])]);
  }
  let errors = 0;
  for (const [name, call] of calls) {
    let answer;
    assert.doesNotThrow(() => { answer = call(); }, name);
    assert.equal(typeof answer, 'object', name);
    if (answer.error) {
      errors++;
      assert.equal(answer.allowed, false, name);
      assert.equal(typeof answer.error.code, 'string', name);
      assert.ok(answer.error.message.length > 10, `${name}: ${answer.error.message}`);
    }
  }
  assert.ok(errors > calls.length / 2, `${errors} error answers of ${calls.length}`);
  // the wrong types of the report: the JavaScript object settings the old build trapped on
  assert.equal(esm.check(SERVICE, 42).error.code, 'invalid-argument');
  assert.match(esm.check(5).error.message, /YAML text \(a string\), got a number/);
  assert.match(esm.check(SERVICE, 10n).error.message, /settings/);
  assert.match(esm.evaluate(null).error.message, /got null/);
  // and the module still answers afterwards
  assert.ok(esm.check(SERVICE).findings.length > 0);
  assert.ok(cjs.rules().rules.length > 0);
});

test('rules() and version()', () => {
  const cat = esm.rules();
  assert.equal(cat.version, esm.version());
  assert.equal(cjs.version(), esm.version());
  const pkg = JSON.parse(readFileSync(join(app, 'node_modules/portcullis/package.json'), 'utf8'));
  assert.equal(esm.version(), pkg.version);
  for (const r of cat.rules) {
    assert.match(r.id, /^[a-z0-9]+(-[a-z0-9]+)*$/);
    assert.ok(r.defaultAction.baseline && r.defaultAction.strict, r.id);
    assert.equal(r.doc, `policies/${r.id}/README.md`);
  }
});

test('check: a broken document keeps the others and names its line', () => {
  const yaml = [
    'apiVersion: v1', 'kind: Service', 'metadata: {name: a, namespace: shop}', 'spec:', '  type: NodePort',
    '---', 'apiVersion: v1', 'kind: Service', 'metadata:', '  name: [b', '---',
    'apiVersion: v1', 'kind: Service', 'metadata: {name: c}', 'spec: {type: LoadBalancer}', '',
  ].join('\n');
  const r = esm.check(yaml);
  assert.equal(r.allowed, false);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0].document, 1);
  const types = r.findings.filter((f) => f.rule.startsWith('service-type-'));
  assert.deepEqual(types.map((f) => [f.rule, f.document, f.line]),
    [['service-type-nodeport', 0, 5], ['service-type-loadbalancer', 2, 15]]);
});
