// Builds the web dashboard (web/) into web/dist/ with esbuild: one minified
// script, its stylesheet and the page. Run by postinstall and `npm run build`, so
// `npm start` serves it with nothing else to do. Exported for the browser tests.
import { copyFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildDashboard({ quiet = false } = {}) {
  const web = join(root, 'web');
  // A Docker layer installs dependencies before the sources are copied in; `npm run build` builds it then.
  if (!existsSync(join(web, 'src', 'main.tsx'))) {
    if (!quiet) console.log('build-dashboard: web/src not here yet, skipped');
    return null;
  }
  const { build } = await import('esbuild');
  const out = join(web, 'dist');
  await mkdir(out, { recursive: true });
  const result = await build({
    entryPoints: [join(web, 'src', 'main.tsx')],
    outfile: join(out, 'app.js'),
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    metafile: true,
    logLevel: quiet ? 'error' : 'warning',
  });
  await copyFile(join(web, 'styles.css'), join(out, 'app.css'));
  await copyFile(join(web, 'index.html'), join(out, 'index.html'));
  const bytes = Object.values(result.metafile.outputs).reduce((s, o) => s + o.bytes, 0);
  if (!quiet) console.log(`build-dashboard: web/dist/app.js ${bytes} bytes`);
  return { dir: out, bytes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildDashboard().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
