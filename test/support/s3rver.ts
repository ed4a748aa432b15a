// A real S3 API over HTTP for tests: s3rver on a free port with a temporary
// directory and one bucket.
//
// s3rver runs in a child Node process started with --openssl-legacy-provider:
// its ListObjectsV2 continuation tokens use DES, which OpenSSL 3 (Node ≥ 17)
// only has in the legacy provider, and a provider cannot be loaded at run time.
// The child process keeps that flag (and s3rver's CPU work) out of the test
// process, so mocha needs no NODE_OPTIONS.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Config } from '../../foundation/config.ts';
import { within } from './bounded-wait.ts';

export interface S3rverHandle {
  endpoint: string;
  bucket: string;
  /** Ready for createS3BlobStore: path style, s3rver's fixed S3RVER/S3RVER keys. */
  config: NonNullable<Config['s3']>;
  /** The directory s3rver keeps its objects in. */
  directory: string;
  stop(): Promise<void>;
}

// CommonJS run with `node -e`: argv = [node, s3rverModulePath, directory, bucket].
const CHILD = `
const S3rver = require(process.argv[1]);
const server = new S3rver({
  address: '127.0.0.1', port: 0, silent: true, directory: process.argv[2],
  configureBuckets: [{ name: process.argv[3] }],
});
server.run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'),
  (err) => { console.error(err); process.exit(1); },
);
// The parent closing our stdin (stop(), or the parent exiting) ends the server.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

export async function startS3rver(options: { bucket?: string; prefix?: string } = {}): Promise<S3rverHandle> {
  const bucket = options.bucket ?? 'logs';
  const directory = await mkdtemp(join(tmpdir(), 'log-service-s3rver-'));
  const modulePath = createRequire(import.meta.url).resolve('s3rver');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD, modulePath, directory, bucket], {
    stdio: ['pipe', 'pipe', 'inherit'],
    // Our own NODE_OPTIONS (mocha's tsx loader) are not needed by plain CommonJS.
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`s3rver exited with code ${code} before listening`)));
    child.once('error', reject);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    directory,
    config: {
      bucket,
      prefix: options.prefix ?? '',
      endpoint,
      pathStyle: true,
      region: 'us-east-1',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
    },
    async stop() {
      child.stdin!.end();
      // A wedged s3rver must not hold the test process open: SIGKILL after a bounded wait.
      if ((await within(exited, 10_000, 'timeout' as const)) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}
