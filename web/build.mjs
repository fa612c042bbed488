// Assembles the checker page into the dist directory: the static files, the
// built-in examples (the repository's example shop when it is there) and a
// service worker that caches every file so the page works offline.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync, copyFileSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const dist = process.argv[2];
if (!dist) {
  console.error('usage: node web/build.mjs DIST_DIR');
  process.exit(2);
}

for (const f of ['index.html', 'style.css', 'app.js', 'worker.js', 'editor.js', 'share.js']) {
  copyFileSync(join(here, f), join(dist, f));
}

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
writeFileSync(join(dist, 'examples.js'), `export const EXAMPLES = ${JSON.stringify(examples, null, 1)};\n`);

// the cache name changes whenever any cached file does, so a new build replaces the old one
const cached = ['index.html', 'style.css', 'app.js', 'worker.js', 'editor.js', 'share.js', 'examples.js',
  'pkg/portcullis.js', 'pkg/portcullis_bg.wasm'];
const hash = createHash('sha256');
for (const f of cached) hash.update(readFileSync(join(dist, f)));
const version = hash.digest('hex').slice(0, 16);
const sw = readFileSync(join(here, 'sw.js'), 'utf8')
  .replace('__CACHE_VERSION__', version)
  .replace("'__FILES__'", JSON.stringify(['./', ...cached.map((f) => `./${f}`)]));
writeFileSync(join(dist, 'sw.js'), sw);

const size = cached.reduce((n, f) => n + statSync(join(dist, f)).size, 0);
console.log(`web: page assembled in ${dist} (${examples.length} examples, ${size} bytes, cache ${version})`);
