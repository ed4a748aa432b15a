#!/usr/bin/env node
// Builds the web log viewer (ui/, docs/VIEWER.md) into dist-ui/: one minified
// JavaScript bundle and one stylesheet with content-hashed names (served with
// a year-long immutable cache), and index.html naming them (served with
// no-cache). Run by `prepare` on every `npm install` and by `npm run build:ui`.
// esbuild is a dev dependency: an install without dev dependencies skips the
// build and says so, like bin/build-tsc.js.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist-ui');

/** Builds the viewer; resolves to the process exit status. */
export async function buildUi() {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    console.warn('log-service: web viewer build skipped (the dev dependency esbuild is not installed)');
    return 0;
  }
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'assets'), { recursive: true });
  try {
    const result = await esbuild.build({
      entryPoints: [join(root, 'ui/main.tsx')],
      bundle: true,
      minify: true,
      sourcemap: false,
      format: 'esm',
      target: 'es2022',
      jsx: 'automatic',
      jsxImportSource: 'preact',
      entryNames: '[name]-[hash]',
      outdir: join(out, 'assets'),
      metafile: true,
      legalComments: 'linked',
      logLevel: 'warning',
    });
    const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
    const js = outputs.find((file) => file.endsWith('.js'));
    const css = outputs.find((file) => file.endsWith('.css'));
    if (js === undefined || css === undefined) throw new Error(`expected one .js and one .css, got ${outputs.join(', ')}`);
    const html = readFileSync(join(root, 'ui/index.html'), 'utf8').replace('{{js}}', js).replace('{{css}}', css);
    writeFileSync(join(out, 'index.html'), html);
    return 0;
  } catch (err) {
    console.error(`log-service: web viewer build failed: ${err.message}`);
    return 1;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exit(await buildUi());
