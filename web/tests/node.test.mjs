// The Node build of the module against every case: the findings each case
// states, and the native answers, through `evaluate` (the JSON contract) and
// `checkYaml`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
// the one judge every JavaScript harness holds a module's answer to
import { judgeFindings, judgeReport } from '../../wasm-tests/node/judge.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const npm = join(root, 'dist/web/npm');
const casesFile = join(root, 'target/web-cases.json');
const require = createRequire(import.meta.url);
const portcullis = require(join(npm, 'node/portcullis.js'));
const { cases } = JSON.parse(readFileSync(casesFile, 'utf8'));


test('cases were exported', () => {
  assert.ok(cases.length > 0);
  assert.ok(cases.some((c) => c.yaml), 'rule cases carry their YAML');
});

for (const c of cases) {
  test(`evaluate: ${c.name}`, () => {
    const answer = JSON.parse(portcullis.evaluate(c.input));
    judgeReport(c.name, c.expectation, answer);
    assert.deepEqual(answer, c.native);
  });
  if (c.yaml === undefined) continue;
  test(`checkYaml: ${c.name}`, () => {
    const answer = JSON.parse(portcullis.checkYaml(c.yaml, JSON.stringify(c.settings)));
    assert.equal(answer.error, undefined, JSON.stringify(answer.error));
    assert.deepEqual(answer.errors, [], 'case files parse');
    judgeFindings(c.name, c.expectation, answer.findings);
    assert.deepEqual(answer, c.nativeYaml);
    // the YAML path finds what the JSON contract finds, each with a real line
    const viaJson = JSON.parse(portcullis.evaluate(c.input));
    const count = (fs) => fs.filter((f) => f.rule === c.rule).length;
    assert.equal(count(answer.findings), count([...viaJson.violations, ...viaJson.warnings]));
    const lines = c.yaml.split('\n').length;
    for (const f of answer.findings) assert.ok(f.line >= 1 && f.line <= lines, `line ${f.line}`);
  });
}

test('rules() lists the catalogue with profile defaults and docs', () => {
  const cat = JSON.parse(portcullis.rules());
  assert.equal(cat.version, portcullis.version());
  assert.ok(cat.rules.length >= 2);
  for (const r of cat.rules) {
    assert.match(r.id, /^[a-z0-9]+(-[a-z0-9]+)*$/);
    assert.ok(r.defaultAction.baseline && r.defaultAction.strict, r.id);
    assert.equal(r.doc, `policies/${r.id}/README.md`);
  }
});

test('checkYaml: a broken document keeps the others and names its line', () => {
  const yaml = [
    'apiVersion: v1', 'kind: Service', 'metadata: {name: a, namespace: shop}', 'spec:', '  type: NodePort',
    '---', 'apiVersion: v1', 'kind: Service', 'metadata:', '  name: [b', '---',
    'apiVersion: v1', 'kind: Service', 'metadata: {name: c}', 'spec: {type: LoadBalancer}', '',
  ].join('\n');
  const r = JSON.parse(portcullis.checkYaml(yaml));
  assert.equal(r.allowed, false);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0].document, 1);
  assert.ok(r.errors[0].line >= 10 && r.errors[0].line <= 11, JSON.stringify(r.errors[0]));
  const types = r.findings.filter((f) => f.rule.startsWith('service-type-'));
  assert.deepEqual(types.map((f) => [f.rule, f.document, f.line]),
    [['service-type-nodeport', 0, 5], ['service-type-loadbalancer', 2, 15]]);
  // index is the object's place among the objects that were checked
  assert.deepEqual(types.map((f) => f.index), [0, 1]);
});

test('checkYaml: settings switch rules off; bad settings are an error answer', () => {
  const yaml = 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {type: NodePort}\n';
  const on = JSON.parse(portcullis.checkYaml(yaml));
  assert.ok(on.findings.some((f) => f.rule === 'service-type-nodeport'));
  const off = JSON.parse(portcullis.checkYaml(yaml, JSON.stringify({ rules: { 'service-type-nodeport': 'off' } })));
  assert.deepEqual(off.findings, on.findings.filter((f) => f.rule !== 'service-type-nodeport'));
  const bad = JSON.parse(portcullis.checkYaml(yaml, JSON.stringify({ profile: 'lenient' })));
  assert.equal(bad.allowed, false);
  assert.match(bad.error.message, /profile/);
  const notJson = JSON.parse(portcullis.checkYaml(yaml, '{profile:'));
  assert.equal(notJson.allowed, false);
  assert.ok(notJson.error.message);
});

test('evaluate: bad input fails closed with a position', () => {
  const r = JSON.parse(portcullis.evaluate('{"kind": '));
  assert.equal(r.allowed, false);
  assert.equal(r.error.code, 'invalid-json');
});

test('npm package: exports resolve and carry types', () => {
  const pkg = JSON.parse(readFileSync(join(npm, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'portcullis');
  const files = [pkg.main, pkg.module, pkg.types, ...Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)))];
  for (const f of files) assert.ok(existsSync(join(npm, f)), `${f} is in the package`);
  const types = readFileSync(join(npm, 'index.d.ts'), 'utf8');
  for (const fn of ['evaluate', 'checkYaml', 'rules', 'version']) assert.match(types, new RegExp(`export function ${fn}\\(`));
  // the package resolves by its name through its exports map
  const resolved = createRequire(join(npm, 'x.js'));
  assert.equal(typeof resolved(join(npm, pkg.exports['.'].node)).checkYaml, 'function');
});
