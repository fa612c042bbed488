// The package's shape, checked by the tools people check packages with:
// publint, arethetypeswrong, and tsc under `nodenext` and `bundler`
// resolution with code that uses the types for real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, packageDir, pack, packInfo, appWithPackage } from './pack.mjs';

const bin = (name) => join(root, 'node_modules/.bin', name);

test('the tarball: one copy of the module, a LICENSE, ESM by default', () => {
  const info = packInfo();
  const files = info.files.map((f) => f.path).sort();
  assert.deepEqual(files, ['LICENSE', 'README.md', 'index.d.cts', 'index.d.ts', 'package.json',
    'portcullis.cjs', 'portcullis.js', 'portcullis_wasm.cjs']);
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  assert.equal(pkg.type, 'module');
  const wasm = readFileSync(join(root, 'dist/web/portcullis.wasm'));
  // the module's bytes are in the package exactly once
  const b64 = wasm.toString('base64');
  let copies = 0;
  for (const f of files) {
    const text = readFileSync(join(packageDir, f), 'latin1');
    copies += text.split(b64.slice(0, 4096)).length - 1;
  }
  assert.equal(copies, 1);
  console.log(`npm package: ${info.files.length} files, ${info.unpackedSize} bytes unpacked, `
    + `${info.packedBytes} bytes packed; wasm ${wasm.length} bytes`);
});

test('publint finds nothing to report', async () => {
  const { publint } = await import('publint');
  const { messages } = await publint({ pkgDir: packageDir, strict: true, level: 'suggestion' });
  assert.deepEqual(messages.map((m) => `${m.code} ${JSON.stringify(m.args)}`), []);
});

test('arethetypeswrong: the types resolve right in every mode', () => {
  const run = spawnSync(process.execPath, [bin('attw'), pack(), '--format', 'json'], { encoding: 'utf8' });
  const report = JSON.parse(run.stdout);
  assert.ok(report.analysis.entrypoints['.'], 'the main entry was analysed');
  const problems = report.analysis.problems;
  assert.deepEqual(problems.map((p) => `${p.kind} ${p.resolutionKind || ''} ${p.entrypoint || ''}`), []);
  assert.equal(run.status, 0, run.stderr);
});

const USE = `
const yaml = 'apiVersion: v1\\nkind: Service\\nmetadata: {name: a}\\nspec: {type: NodePort}\\n';
const settings: Settings = { profile: 'strict', rules: { 'service-type-nodeport': 'deny' } };
const report = check(yaml, settings);
if (report.error) {
  const code: string = report.error.code;
  console.log(code);
} else {
  const r: YamlReport = report;
  const line: number = r.findings[0].line;
  const fixed = applyFixes(yaml, r);
  if (!fixed.error) console.log(fixed.text.length + line);
}
const answer: Report | ErrorAnswer = evaluate({ kind: 'Service' }, settings);
const name: string = version();
void init().then(() => console.log(answer.allowed, name));
`;

for (const resolution of ['nodenext', 'bundler']) {
  test(`tsc with ${resolution} resolution`, () => {
    const app = appWithPackage(`tsc-${resolution}`);
    const module = resolution === 'nodenext' ? 'nodenext' : 'esnext';
    writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module, moduleResolution: resolution, target: 'es2022', strict: true, noEmit: true,
        lib: ['es2022', 'dom'], types: [] },
      include: ['*.ts', '*.mts', '*.cts'],
    }));
    writeFileSync(join(app, 'main.ts'), `import { check, evaluate, applyFixes, version, init } from 'portcullis';\n`
      + `import type { Settings, Report, YamlReport, ErrorAnswer } from 'portcullis';\n${USE}`);
    if (resolution === 'nodenext') {
      // a CommonJS file of the same project gets the CommonJS types
      writeFileSync(join(app, 'main.cts'), `import p = require('portcullis');\n`
        + 'const r = p.check("kind: Service", { profile: "baseline" });\nif (!r.error) console.log(r.findings.length);\n');
    }
    // a wrong call must be a type error: the types are not `any`
    writeFileSync(join(app, 'wrong.ts'), `import { check } from 'portcullis';\n// @ts-expect-error settings are typed\ncheck('', { profile: 'lenient' });\n`);
    const run = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', app], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
  });
}
