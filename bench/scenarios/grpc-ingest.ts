// grpc_ingest: the ingest load of ingest.ts (batches of 100 lines × 100 bytes,
// 8 producers, 2 batches in flight each) through Push on the gRPC port, and
// the same load over HTTP PUT on the same server in the same run: the target
// is the HTTP figure (docs/GRPC.md).
import { freePort, startGenerator, startLogService } from '../lib/processes.ts';
import type { BenchOptions } from './options.ts';
import { measurePush, pushLoad, round } from './ingest.ts';

interface GrpcPushResult {
  lines_per_s: number;
  batches: number;
  errors: string[];
}

export async function grpcIngest(options: BenchOptions): Promise<Record<string, number>> {
  const load = pushLoad(options);
  const grpcPort = await freePort();
  const server = await startLogService({ env: { LOG_SERVICE_GRPC_BIND: `127.0.0.1:${grpcPort}` }, cpuProfDir: options.profileDir('grpc_ingest') });
  try {
    const httpRate = (await measurePush(server, load, 'http-ingest')).rate;
    const gen = startGenerator<GrpcPushResult>(
      'grpc-push-gen.ts',
      {
        address: `127.0.0.1:${grpcPort}`,
        calls: load.connections,
        // Acks are what a Push producer waits for: 4 batches in flight per call keeps the
        // round trip off the figure (the HTTP generator pipelines 2 requests per socket).
        depth: 4,
        warmupMs: load.warmupMs,
        durationMs: load.durationMs,
        account: 'bench',
        keyPrefix: 'grpc-ingest',
        linesPerBatch: 100,
        lineBytes: 100,
      },
      load.warmupMs + load.durationMs + 30_000,
    );
    const result = await gen.result;
    if (result.errors.length > 0) throw new Error(`grpc push errors: ${result.errors.join('; ')}\n${server.output().slice(-1000)}`);
    return { lines_per_s: Math.round(result.lines_per_s), http_lines_per_s: Math.round(httpRate), ratio: round(result.lines_per_s / httpRate, 3) };
  } finally {
    await server.stop();
  }
}
