#!/usr/bin/env node
// Compiles the TypeScript sources with tsc: `node bin/build-tsc.js [client] [server]`
// (both when none is named). Run by `npm run build` and by `prepare` on every
// `npm install`.
//   client: log-service/client for ordinary Node projects, JavaScript + .d.ts in
//           dist/ (tsconfig.client.json)
//   server: the server and the CLI (cmd/ and every layer under it), JavaScript in
//           build/ (tsconfig.build.json); what bin/log-service.js runs in production
// Each output folder is emptied first (no file of a deleted source survives), and
// build/.stamp is written only when the compile succeeded: bin/log-service.js runs
// build/ only when the stamp exists. TypeScript is a dev dependency: an install
// without dev dependencies (`npm ci --omit=dev`, a server-only deployment) skips
// the build, leaves any build/ that is already there as it is, and says so,
// instead of failing the install. A compile error still fails it.
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const TARGETS = {
  client: { project: 'tsconfig.client.json', outDir: 'dist' },
  server: { project: 'tsconfig.build.json', outDir: 'build', stamp: '.stamp' },
};

function compile(name) {
  const { project, outDir, stamp } = TARGETS[name];
  // The stamp goes first: a log-service started while this runs never sees a half-removed or half-written build.
  if (stamp !== undefined) rmSync(join(root, outDir, stamp), { force: true });
  rmSync(join(root, outDir), { recursive: true, force: true });
  return new Promise((done) => {
    const child = spawn(process.execPath, [tsc, '-p', join(root, project)], { stdio: 'inherit' });
    child.on('error', (err) => {
      console.error(`log-service: ${name} build failed: ${err.message}`);
      done(1);
    });
    child.on('close', (code) => {
      if (code === 0 && stamp !== undefined) writeFileSync(join(root, outDir, stamp), `${new Date().toISOString()}\n`);
      if (code !== 0) console.error(`log-service: ${name} build failed (tsc -p ${project})`);
      done(code ?? 1);
    });
  });
}

let tsc;

/** Builds the named targets in parallel; resolves to the process exit status. */
export async function build(names) {
  for (const name of names) if (!(name in TARGETS)) throw new Error(`unknown build target ${name} (known: ${Object.keys(TARGETS).join(', ')})`);
  try {
    tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    console.warn(`log-service: build skipped (the dev dependency typescript is not installed): ${names.join(', ')}`);
    return 0;
  }
  const codes = await Promise.all(names.map(compile));
  return codes.find((code) => code !== 0) ?? 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const names = process.argv.slice(2);
  process.exit(await build(names.length > 0 ? names : Object.keys(TARGETS)));
}
