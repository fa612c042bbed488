// Assembles the npm package from wasm-bindgen's bundler output:
//   portcullis.js / portcullis.cjs  the API and the glue, as ESM and CommonJS
//   portcullis_wasm.cjs             the module, base64, shared by both
//   index.d.ts / index.d.cts        the types, once per module format
// usage: node bindings/web/build.mjs GLUE_DIR OUT_DIR
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const [glueDir, outDir] = process.argv.slice(2).map((p) => p && resolve(p));
if (!glueDir || !outDir) {
  console.error('usage: node bindings/web/build.mjs GLUE_DIR OUT_DIR');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));

/** The glue bundled in under the name the API imports it by. */
function glueOptions(dir) {
  return {
    alias: { 'portcullis-glue': join(dir, 'portcullis_bg.js') },
    define: { __PORTCULLIS_VERSION__: JSON.stringify(pkg.version) },
  };
}

const wasm = readFileSync(join(glueDir, 'portcullis_bg.wasm'));
writeFileSync(join(outDir, 'portcullis_wasm.cjs'),
  `// portcullis ${pkg.version}: the rules as a WebAssembly module, base64\nmodule.exports = "${wasm.toString('base64')}";\n`);

const common = {
  entryPoints: [join(here, 'js/index.js')],
  bundle: true,
  platform: 'neutral',
  // Node 18 and every browser of the last years; keeps `||=` and `?.` as written
  target: 'es2021',
  external: ['./portcullis_wasm.cjs'],
  legalComments: 'none',
  logLevel: 'warning',
  ...glueOptions(glueDir),
};
await build({ ...common, format: 'esm', outfile: join(outDir, 'portcullis.js') });
await build({ ...common, format: 'cjs', outfile: join(outDir, 'portcullis.cjs') });

copyFileSync(join(here, 'index.d.ts'), join(outDir, 'index.d.ts'));
copyFileSync(join(here, 'index.d.ts'), join(outDir, 'index.d.cts'));
copyFileSync(join(here, 'README.md'), join(outDir, 'README.md'));
copyFileSync(join(root, 'LICENSE'), join(outDir, 'LICENSE'));
writeFileSync(join(outDir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);

const size = (f) => statSync(join(outDir, f)).size;
console.log(`npm package in ${outDir}: wasm ${wasm.length} bytes (inlined once: ${size('portcullis_wasm.cjs')} bytes), `
  + `ESM ${size('portcullis.js')} bytes, CJS ${size('portcullis.cjs')} bytes`);
