#!/usr/bin/env node
// Builds log-service/client (JavaScript + .d.ts in dist/client/) on `npm install`
// (the package's `prepare` script). TypeScript is a dev dependency: an install
// without dev dependencies (`npm ci --omit=dev`, a server-only deployment)
// skips the build and says so, instead of failing the install. A compile
// error still fails it.
//
// dist/ holds the client build and nothing else: it is emptied first, so files
// of an earlier build (a module since removed, or server files an older
// layout compiled) never end up in the package.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let tsc;
try {
  tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  console.warn('log-service: client build skipped (the dev dependency typescript is not installed); the server needs no build');
  process.exit(0);
}
rmSync(join(root, 'dist'), { recursive: true, force: true });
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.client.json')], { stdio: 'inherit' });
process.exit(result.status ?? 1);
