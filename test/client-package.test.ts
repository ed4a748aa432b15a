// `import { LogServiceClient } from 'log-service/client'` works from an
// ordinary Node project: plain `node` (no tsx, no TypeScript loader) runs the
// built JavaScript, and a strict TypeScript project type-checks against the
// built declarations. The build (bin/build-client.js, as `prepare` runs it)
// puts the client and nothing else in dist/.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from './support/in-process-server.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(root, 'node_modules', '.bin', 'tsc');

const CONSUMER = `
import { LogServiceClient, LogServiceError } from 'log-service/client';
const client = new LogServiceClient({ server: process.argv[2] });
const stream = client.stream({ project: 'pkg', build: '1', stage: 's', step: 't' });
await stream.open();
await stream.push('hello from a plain node project\\n');
await stream.close({ snapshot: true });
const lines = [];
for await (const event of stream.tail()) if (event.type === 'line') lines.push(event.line.out);
const missing = await client.blob({ project: 'pkg', build: '1', stage: 's', step: 'nope' }).download().catch((e) => e);
console.log(JSON.stringify({ lines, missing: missing instanceof LogServiceError ? missing.code : String(missing) }));
`;

const TYPED_CONSUMER = `
import { LogServiceClient, isLogServiceError, type TailEvent } from 'log-service/client';
const client: LogServiceClient = new LogServiceClient({ server: 'http://127.0.0.1:8079', timeoutMs: 1000 });
export async function follow(): Promise<string[]> {
  const out: string[] = [];
  const events: AsyncIterable<TailEvent> = client.stream({ accountID: 'a', key: 'k' }).tail({ tail: 10 });
  try {
    for await (const e of events) if (e.type === 'line') out.push(e.line.out + e.seq.toFixed(0));
  } catch (err) {
    if (isLogServiceError(err)) out.push(err.code);
  }
  return out;
}
`;

describe('the client package for ordinary Node projects', function () {
  this.timeout(90_000);
  let server: TestServer;
  let project: string;
  before(async () => {
    await run(process.execPath, [join(root, 'bin', 'build-client.js')], { cwd: root });
    project = await mkdtemp(join(tmpdir(), 'logsvc-consumer-'));
    await mkdir(join(project, 'node_modules'));
    await symlink(root, join(project, 'node_modules', 'log-service'), 'dir');
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
    server = await startTestServer({ LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '0' });
  });
  after(async () => {
    await server?.destroy();
    if (project !== undefined) await rm(project, { recursive: true, force: true });
  });

  it('builds the client alone: every file in dist/ is under dist/client/, where package.json exports point', async () => {
    const files = (await readdir(join(root, 'dist'), { recursive: true, withFileTypes: true }))
      .filter((entry) => !entry.isDirectory())
      .map((entry) => relative(join(root, 'dist'), join(entry.parentPath, entry.name)).split(sep).join('/'))
      .sort();
    assert.ok(files.includes('client/index.js') && files.includes('client/index.d.ts'), files.join(', '));
    assert.ok(files.includes('client/wire.js') && files.includes('client/wire.d.ts'), files.join(', '));
    assert.deepEqual(
      files.filter((file) => !file.startsWith('client/')),
      [],
      'server files were compiled into dist/',
    );
    // Nothing built reaches out of the package's client (e.g. "../stream/…", "../../foundation/…").
    for (const file of files) {
      const text = await readFile(join(root, 'dist', file), 'utf8');
      assert.doesNotMatch(text, /from ['"]\.\.\//, `dist/${file} imports from outside dist/client/`);
    }
    // package.json `exports` points at files the build made.
    const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> };
    const targets = Object.values(manifest.exports['./client'] ?? {});
    assert.ok(targets.length > 0, 'package.json exports has no "./client"');
    for (const target of targets) assert.ok(files.includes(target.replace(/^\.\/dist\//, '')), `exports points at ${target}, which the build did not make`);
  });

  it('runs under plain node from the built JavaScript', async () => {
    await writeFile(join(project, 'main.mjs'), CONSUMER);
    const { stdout } = await run(process.execPath, ['main.mjs', server.url], { cwd: project, env: { ...process.env, NODE_OPTIONS: '' } });
    assert.deepEqual(JSON.parse(stdout), { lines: ['hello from a plain node project\n'], missing: 'LOGSVC_BLOB_NOT_FOUND' });
  });

  it('type-checks a strict TypeScript consumer against the built declarations', async () => {
    await writeFile(join(project, 'main.ts'), TYPED_CONSUMER);
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          typeRoots: [join(root, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['main.ts'],
      }),
    );
    await run(tsc, ['-p', project], { cwd: project }).catch((err: { stdout?: string }) => {
      throw new Error(`tsc failed:\n${err.stdout ?? String(err)}`);
    });
    // …and the check can fail: a wrong type is reported.
    await writeFile(join(project, 'main.ts'), `${TYPED_CONSUMER}\nexport const wrong: number = new LogServiceClient().server;\n`);
    await assert.rejects(run(tsc, ['-p', project], { cwd: project }), (err: { stdout?: string }) => /TS2322/.test(err.stdout ?? ''));
  });
});
