// The package in the bundlers people use, each with its default settings:
// a tiny app imports `portcullis` by name, is built (and for Vite also
// served by its dev server), opened in Chromium, and must show the findings
// the package answers in Node for the same manifest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
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
const HTML = (script) => `<!doctype html><html><head><meta charset="utf-8"><title>app</title></head>
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

async function assertServed(dir, url, label) {
  const { result, early, problems } = await run(url);
  assert.deepEqual(result, expected, `${label}: ${JSON.stringify(result)}`);
  assert.deepEqual(problems, [], label);
  console.log(`${label}: findings shown; check() before init(): ${early}`);
}

test('esbuild (default: iife bundle for the browser)', async () => {
  const { build } = await import('esbuild');
  const dir = app('esbuild');
  await build({ entryPoints: [join(dir, 'src/main.js')], bundle: true, outfile: join(dir, 'dist/main.js'), logLevel: 'silent' });
  writeFileSync(join(dir, 'dist/index.html'), HTML('main.js'));
  const server = await serve(join(dir, 'dist'));
  try {
    await assertServed(dir, server.url, 'esbuild');
  } finally {
    await server.close();
  }
});

for (const vite of ['vite7', 'vite8']) {
  test(`${vite}: production build`, async () => {
    const { build } = await import(vite);
    const dir = app(`${vite}-build`);
    writeFileSync(join(dir, 'index.html'), HTML('/src/main.js'));
    await build({ root: dir, configFile: false, logLevel: 'silent', build: { outDir: join(dir, 'dist') } });
    const server = await serve(join(dir, 'dist'));
    try {
      await assertServed(dir, server.url, `${vite} build`);
    } finally {
      await server.close();
    }
  });

  test(`${vite}: dev server (dependency pre-bundling)`, async () => {
    const { createServer } = await import(vite);
    const dir = app(`${vite}-dev`);
    writeFileSync(join(dir, 'index.html'), HTML('/src/main.js'));
    const server = await createServer({
      root: dir, configFile: false, logLevel: 'silent', cacheDir: join(dir, '.vite'),
      server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
    });
    await server.listen();
    try {
      const { port } = server.httpServer.address();
      await assertServed(dir, `http://127.0.0.1:${port}/`, `${vite} dev`);
    } finally {
      await server.close();
    }
  });
}

test('webpack 5 (production mode, default rules)', async () => {
  const webpack = (await import('webpack')).default;
  const dir = app('webpack');
  const stats = await new Promise((resolve, reject) => {
    webpack({
      mode: 'production', context: dir, entry: './src/main.js',
      output: { path: join(dir, 'dist'), filename: 'main.js' },
      performance: { hints: false },
    }, (err, s) => (err ? reject(err) : resolve(s)));
  });
  assert.equal(stats.hasErrors(), false, stats.toString('errors-only'));
  writeFileSync(join(dir, 'dist/index.html'), HTML('main.js'));
  const server = await serve(join(dir, 'dist'));
  try {
    await assertServed(dir, server.url, 'webpack');
  } finally {
    await server.close();
  }
});
