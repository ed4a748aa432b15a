// A real server on a free loopback port, in the test process (fast to start),
// with its own LMDB file. Use server-process.ts when the test needs a process.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../foundation/config.ts';
import { startServer, type RunningServer } from '../../app/http-server.ts';
import { createLogger } from '../../foundation/logger.ts';

export interface TestServer extends RunningServer {
  dataDir: string;
  /** Stops the server and removes its data. */
  destroy(): Promise<void>;
}

export async function startTestServer(env: Record<string, string> = {}, dataDir?: string): Promise<TestServer> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'logsvc-http-')));
  const config = loadConfig({
    LOG_SERVICE_HTTP_BIND: '127.0.0.1:0',
    LOG_SERVICE_LMDB_PATH: join(dir, 'blobs.lmdb'),
    LOG_SERVICE_LOG_LEVEL: 'silent',
    LOG_SERVICE_SHUTDOWN_GRACE_SECONDS: '1',
    ...env,
  });
  const running = await startServer(config, createLogger(config.logLevel));
  return {
    ...running,
    dataDir: dir,
    async destroy() {
      await running.stop();
      if (dataDir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}
