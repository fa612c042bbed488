// The npm package as users get it: `npm pack` of dist/web/npm, unpacked into
// an app's node_modules (a copy, not a link, so bundlers treat it as the
// dependency it is).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, existsSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const packageDir = join(root, 'dist/web/npm');
const packs = join(root, 'target/web-pack');

let tarball;
/** Packs the package once per process; returns the tarball's path. */
export function pack() {
  if (tarball) return tarball;
  if (!existsSync(join(packageDir, 'package.json'))) throw new Error('run `make web` first');
  const dir = join(packs, String(process.pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const out = execFileSync('npm', ['pack', packageDir, '--pack-destination', dir, '--json', '--silent'], { encoding: 'utf8' });
  const [info] = JSON.parse(out);
  tarball = join(dir, info.filename);
  return tarball;
}

export function packInfo() {
  const out = execFileSync('npm', ['pack', packageDir, '--dry-run', '--json', '--silent'], { encoding: 'utf8' });
  const [info] = JSON.parse(out);
  return { ...info, packedBytes: statSync(pack()).size };
}

/** A fresh app folder under target/ with the package installed in it. */
export function appWithPackage(name) {
  const app = join(root, 'target/web-apps', name);
  rmSync(app, { recursive: true, force: true });
  const dest = join(app, 'node_modules/portcullis');
  mkdirSync(dest, { recursive: true });
  execFileSync('tar', ['-xzf', pack(), '-C', dest, '--strip-components=1']);
  return app;
}
