// The package in the bundlers people use, each with its default settings:
// a tiny app imports `portcullis` by name, is built (and for Vite also
// served by its dev server), opened in Chromium, and must show the findings
// the package answers in Node for the same manifest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { appWithPackage } from './pack.mjs';
import { serve, launch } from './chromium.mjs';

const MANIFEST = `apiVersion: v1
kind: Service
metadata:
  name: admin
  namespace: shop
spec:
  type: NodePort
  ports:
    - port: 8080
      nodePort: 30080
`;

// The app: calls check() before init() (it may work already: small enough
// modules compile synchronously), then after, and shows what it got.
const MAIN = `import { init, check, version } from 'portcullis';
const manifest = ${JSON.stringify(MANIFEST)};
const early = check(manifest, { profile: 'baseline' });
init().then(() => {
  const r = check(manifest, { profile: 'baseline' });
  document.body.dataset.early = early.error ? early.error.code : 'answered';
  document.body.dataset.version = version();
  document.body.dataset.result = JSON.stringify(r.error ? r : r.findings.map((f) => [f.rule, f.line]));
}, (e) => { document.body.dataset.result = JSON.stringify({ failure: String(e) }); });
`;
const HTML = (script) => `<!doctype html><html><head><meta charset="utf-8"><title>app</title><link rel="icon" href="data:,"></head>
<body><script type="module" src="${script}"></script></body></html>`;

let browser;
let expected;

before(async () => {
  browser = await launch();
  const app = appWithPackage('node-expected');
  const portcullis = createRequire(join(app, 'x.cjs'))('portcullis');
  expected = portcullis.check(MANIFEST, { profile: 'baseline' }).findings.map((f) => [f.rule, f.line]);
  assert.ok(expected.some(([rule, line]) => rule === 'service-type-nodeport' && line === 7), JSON.stringify(expected));
});

after(async () => {
  if (browser) await browser.close();
});

/** Opens `url`, waits for the app's answer, returns it with any page errors. */
async function run(url) {
  const page = await browser.context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.goto(url);
  await page.waitForFunction(() => document.body && document.body.dataset.result, null, { timeout: 60000 });
  const out = await page.evaluate(() => ({ ...document.body.dataset }));
  await page.close();
  return { result: JSON.parse(out.result), early: out.early, version: out.version, problems };
}

function app(name) {
  const dir = appWithPackage(`bundler-${name}`);
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'src/main.js'), MAIN);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `app-${name}`, private: true, type: 'module' }));
  return dir;
}

async function assertServed(url, label) {
  const { result, early, problems } = await run(url);
  assert.deepEqual(result, expected, `${label}: ${JSON.stringify(result)}`);
  assert.deepEqual(problems, [], label);
  console.log(`${label}: findings shown; check() before init(): ${early}`);
}

const here = dirname(fileURLToPath(import.meta.url));
const LIMIT_MS = 180000;

/** Runs the app's build in its own process; resolves when it exits 0. */
function buildApp(tool, dir) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(here, 'bundle-app.mjs'), 'build', tool, dir], { timeout: LIMIT_MS },
      (err, stdout, stderr) => (err ? reject(new Error(`${tool} build: ${err.message}\n${stdout}${stderr}`)) : resolve()));
  });
}

/** Starts the app's dev server in its own process; resolves to {url, stop}. */
function devServer(tool, dir) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, 'bundle-app.mjs'), 'dev', tool, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${tool} dev server did not start:\n${log}`)); }, LIMIT_MS);
    const stop = () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); setTimeout(() => child.kill('SIGKILL'), 5000); });
    child.stdout.on('data', (d) => {
      log += d;
      const m = /url (\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], stop });
      }
    });
    child.stderr.on('data', (d) => { log += d; });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${tool} dev server ended (${code}):\n${log}`)); });
  });
}

async function builtAndServed(tool, html) {
  const dir = app(tool);
  writeFileSync(join(dir, 'index.html'), HTML(html));
  await buildApp(tool, dir);
  if (tool === 'esbuild' || tool === 'webpack') writeFileSync(join(dir, 'dist/index.html'), HTML('main.js'));
  const server = await serve(join(dir, 'dist'));
  try {
    await assertServed(server.url, `${tool} build`);
  } finally {
    await server.close();
  }
}

test('esbuild (defaults: an iife bundle for the browser)', () => builtAndServed('esbuild', 'main.js'));

for (const vite of ['vite7', 'vite8']) {
  test(`${vite}: production build`, () => builtAndServed(vite, '/src/main.js'));

  test(`${vite}: dev server (dependency pre-bundling)`, async () => {
    const dir = app(`${vite}-dev`);
    writeFileSync(join(dir, 'index.html'), HTML('/src/main.js'));
    const server = await devServer(vite, dir);
    try {
      await assertServed(server.url, `${vite} dev`);
    } finally {
      await server.stop();
    }
  });
}

test('webpack 5 (production mode, default rules)', () => builtAndServed('webpack', 'main.js'));
