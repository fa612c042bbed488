// Assembles the checker page into the dist directory: the page and its
// worker bundled with CodeMirror and the package's API (esbuild), the
// module's bytes as their own file, the built-in examples (the repository's
// example shop when it is there) and a service worker that caches every file
// so the page works offline.
// usage: node web/build.mjs GLUE_DIR DIST_DIR
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync, copyFileSync, statSync, mkdirSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const [glueDir, dist] = process.argv.slice(2).map((p) => p && resolve(p));
if (!glueDir || !dist) {
  console.error('usage: node web/build.mjs GLUE_DIR DIST_DIR');
  process.exit(2);
}
mkdirSync(dist, { recursive: true });

const yamlFiles = (dir) =>
  existsSync(dir)
    ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(dir, f))
    : [];

// several files become one stream; each keeps a comment naming where it came from
const concat = (files, base) =>
  files
    .map((f) => `# ${f.slice(base.length + 1)}\n${readFileSync(f, 'utf8').trimEnd()}\n`)
    .join('---\n');

const examples = [];
const unsafe = yamlFiles(join(root, 'examples/unsafe'));
if (unsafe.length) {
  examples.push({ id: 'unsafe-shop', title: 'The unsafe shop (examples/unsafe)', yaml: concat(unsafe, root) });
}
const fixed = yamlFiles(join(root, 'examples/fixed'));
if (fixed.length) {
  examples.push({ id: 'fixed-shop', title: 'The fixed shop (examples/fixed)', yaml: concat(fixed, root) });
}
for (const f of yamlFiles(join(here, 'examples'))) {
  const id = f.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
  const title = id.replace(/-/g, ' ').replace(/^./, (c) => c.toUpperCase());
  examples.push({ id, title, yaml: readFileSync(f, 'utf8') });
}
const pkg = JSON.parse(readFileSync(join(root, 'bindings/web/package.json'), 'utf8'));

// the page and the worker: one file each, CodeMirror and the API inside
await build({
  entryPoints: { app: join(here, 'src/app.js'), worker: join(here, 'src/worker.js') },
  outdir: dist,
  bundle: true,
  format: 'esm',
  minify: true,
  target: 'es2021',
  legalComments: 'none',
  logLevel: 'warning',
  alias: { 'portcullis-glue': join(glueDir, 'portcullis_bg.js') },
  define: { __PORTCULLIS_VERSION__: JSON.stringify(pkg.version) },
  plugins: [{
    // the examples come from the repository at build time
    name: 'examples',
    setup(b) {
      b.onResolve({ filter: /^\.\/examples\.js$/ }, () => ({ path: 'examples', namespace: 'examples' }));
      b.onLoad({ filter: /.*/, namespace: 'examples' }, () => ({
        contents: `export const EXAMPLES = ${JSON.stringify(examples)};`, loader: 'js',
      }));
    },
  }],
});
for (const f of ['index.html', 'style.css']) copyFileSync(join(here, f), join(dist, f));
copyFileSync(join(glueDir, 'portcullis_bg.wasm'), join(dist, 'portcullis.wasm'));

// the cache name changes whenever any cached file does, so a new build replaces the old one
const cached = ['index.html', 'style.css', 'app.js', 'worker.js', 'portcullis.wasm'];
const hash = createHash('sha256');
for (const f of cached) hash.update(readFileSync(join(dist, f)));
const version = hash.digest('hex').slice(0, 16);
const sw = readFileSync(join(here, 'sw.js'), 'utf8')
  .replace('__CACHE_VERSION__', version)
  .replace("'__FILES__'", JSON.stringify(['./', ...cached.map((f) => `./${f}`)]));
writeFileSync(join(dist, 'sw.js'), sw);

const size = (f) => statSync(join(dist, f)).size;
console.log(`web: page assembled in ${dist} (${examples.length} examples; app.js ${size('app.js')} bytes, `
  + `worker.js ${size('worker.js')} bytes, portcullis.wasm ${size('portcullis.wasm')} bytes; cache ${version})`);
