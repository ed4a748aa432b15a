// scribe_log: go-scribe's unary Log from 50 concurrent callers (one line of
// 100 bytes each, a file per caller) against `log-service server` with the
// gRPC listener and go-scribe file output on; baseline: a bare grpc-js server
// whose Log does nothing (bench/baseline/grpc-unary-server.ts), same generator,
// same run. Target: ratio ≥ 0.5.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, REPO_ROOT, startGenerator, startLogService, type ServerChild } from '../lib/processes.ts';
import { round } from './ingest.ts';
import type { BenchOptions } from './options.ts';

interface LogResult {
  calls_per_s: number;
  errors: string[];
}

const CALLERS = 50;

function load(options: BenchOptions) {
  return options.quick ? { warmupMs: 1000, durationMs: 4000 } : { warmupMs: 2000, durationMs: 15_000 };
}

async function measure(address: string, options: BenchOptions, output: () => string): Promise<number> {
  const { warmupMs, durationMs } = load(options);
  const gen = startGenerator<LogResult>(
    'scribe-log-gen.ts',
    { address, callers: CALLERS, warmupMs, durationMs, lineBytes: 100 },
    warmupMs + durationMs + 30_000,
  );
  const result = await gen.result;
  if (result.errors.length > 0) throw new Error(`Log errors: ${result.errors.join('; ')}\n${output().slice(-1000)}`);
  return result.calls_per_s;
}

/** The bare grpc-js baseline as its own process; ready when it prints "ready". */
async function startGrpcBaseline(): Promise<{ address: string; output(): string; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import=tsx', join(REPO_ROOT, 'bench/baseline/grpc-unary-server.ts'), String(port)], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`grpc baseline not ready in 20 s:\n${log}`)), 20_000);
    const onData = (c: Buffer) => {
      log += c.toString();
      if (log.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`grpc baseline exited (${code}):\n${log}`));
    });
  });
  return {
    address: `127.0.0.1:${port}`,
    output: () => log,
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

export async function scribeLog(options: BenchOptions): Promise<Record<string, number>> {
  const baseline = await startGrpcBaseline();
  let baselineRate: number;
  try {
    baselineRate = await measure(baseline.address, options, baseline.output);
  } finally {
    await baseline.stop();
  }
  const grpcPort = await freePort();
  let server: ServerChild | undefined;
  let rate: number;
  try {
    server = await startLogService({
      env: { LOG_SERVICE_GRPC_BIND: `127.0.0.1:${grpcPort}`, LOG_SERVICE_SCRIBE_DIR: 'scribe', LOG_SERVICE_SCRIBE_MAX_SIZE: '1MB' },
      cpuProfDir: options.profileDir('scribe_log'),
    });
    const running = server;
    rate = await measure(`127.0.0.1:${grpcPort}`, options, () => running.output());
  } finally {
    await server?.stop();
  }
  return { calls_per_s: Math.round(rate), baseline_calls_per_s: Math.round(baselineRate), ratio: round(rate / baselineRate, 3) };
}
