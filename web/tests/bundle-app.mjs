// Builds or serves one tiny app with one bundler, in a process of its own
// (two Vite majors and webpack share no global state, and a stuck bundler is
// ended by the test's time limit, not waited for).
//   node web/tests/bundle-app.mjs build esbuild|vite7|vite8|webpack APP_DIR
//   node web/tests/bundle-app.mjs dev vite7|vite8 APP_DIR    prints `url …`, serves until ended
import { join } from 'node:path';

const [mode, tool, dir] = process.argv.slice(2);
const out = join(dir, 'dist');

if (mode === 'build' && tool === 'esbuild') {
  const { build } = await import('esbuild');
  await build({ entryPoints: [join(dir, 'src/main.js')], bundle: true, outfile: join(out, 'main.js'), logLevel: 'warning' });
} else if (mode === 'build' && tool.startsWith('vite')) {
  const { build } = await import(tool);
  await build({ root: dir, configFile: false, logLevel: 'warn', build: { outDir: out } });
} else if (mode === 'build' && tool === 'webpack') {
  const webpack = (await import('webpack')).default;
  const stats = await new Promise((resolve, reject) => {
    webpack({
      mode: 'production', context: dir, entry: './src/main.js',
      output: { path: out, filename: 'main.js' },
      performance: { hints: false },
    }, (err, s) => (err ? reject(err) : resolve(s)));
  });
  if (stats.hasErrors()) {
    console.error(stats.toString('errors-only'));
    process.exit(1);
  }
} else if (mode === 'dev' && tool.startsWith('vite')) {
  const { createServer } = await import(tool);
  const server = await createServer({
    root: dir, configFile: false, logLevel: 'warn', cacheDir: join(dir, '.vite'),
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
  });
  await server.listen();
  console.log(`url http://127.0.0.1:${server.httpServer.address().port}/`);
  process.on('SIGTERM', () => process.exit(0));
} else {
  console.error(`unknown: ${mode} ${tool}`);
  process.exit(2);
}
