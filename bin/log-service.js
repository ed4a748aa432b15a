#!/usr/bin/env node
// The package's executable. Which code it runs:
//   1. build/ (JavaScript compiled by `npm run build`, and by `prepare` on every
//      `npm install`), when the build succeeded (build/.stamp) and nothing in the
//      sources is newer than it; or whenever tsx is not installed (production,
//      `npm ci --omit=dev`).
//   2. otherwise the TypeScript sources through tsx (a development checkout: an
//      edit, a pull or a branch switch since the last build never runs stale
//      JavaScript). LOG_SERVICE_RUN_SOURCES=1 always picks the sources.
//   3. neither: one line on stderr and exit 1.
import { readdirSync, readFileSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);

/**
 * The folders compiled into build/: tsconfig.build.json's `include`, the one
 * list (a folder missing here would let a stale build/ run after its edits).
 * Its comments are whole `//` lines.
 */
function sourceDirs() {
  try {
    const text = readFileSync(new URL('tsconfig.build.json', root), 'utf8').replace(/^\s*\/\/.*$/gm, '');
    const include = JSON.parse(text).include;
    if (Array.isArray(include) && include.every((dir) => typeof dir === 'string')) return include;
  } catch {
    // no readable tsconfig.build.json (a trimmed install): every folder of ours
  }
  return ['cmd', 'app', 'archive', 'foundation', 'handler', 'grpc', 'tailsrv', 'scribe', 'stream', 'store', 'client'];
}
const SOURCE_DIRS = sourceDirs();

function mtimeMs(url) {
  try {
    return statSync(url).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The newest mtime among the source folders and their files (a folder's mtime moves when a file is added or removed). */
function newestSourceMs() {
  let newest = 0;
  const visit = (dir) => {
    newest = Math.max(newest, mtimeMs(dir) ?? 0);
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.isDirectory()) visit(new URL(`${entry.name}/`, dir));
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, mtimeMs(new URL(entry.name, dir)) ?? 0);
    }
  };
  for (const name of SOURCE_DIRS) visit(new URL(`${name}/`, root));
  return newest;
}

function tsxInstalled() {
  try {
    import.meta.resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}

const sourcesWanted = process.env.LOG_SERVICE_RUN_SOURCES === '1';
const builtMs = sourcesWanted ? undefined : mtimeMs(new URL('build/.stamp', root));
const fresh = builtMs !== undefined && newestSourceMs() <= builtMs;

if (!fresh && tsxInstalled()) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cmd/main.ts');
} else if (builtMs !== undefined) {
  await import('../build/cmd/main.js');
} else {
  console.error(
    sourcesWanted
      ? 'log-service: LOG_SERVICE_RUN_SOURCES=1 needs the dev dependency tsx: run `npm install`'
      : 'log-service: not built: run `npm install` (or `npm run build`)',
  );
  process.exit(1);
}
