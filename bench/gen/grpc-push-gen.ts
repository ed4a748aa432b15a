// gRPC ingest load: `calls` Push calls (each on its own channel, so its own
// HTTP/2 connection), each opening its own stream (Open) and then sending the
// same batch with `depth` batches awaiting their ack. The batches are encoded
// once with the proto's own serializer and sent as bytes (identity
// serializer), so the generator's CPU goes to the wire, not to protobuf. Counts
// acks received in the measurement window, after a warm-up.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type MethodDefinition } from '@grpc/proto-loader';
import { finish, generatorConfig } from '../lib/generator.ts';
import { REPO_ROOT } from '../lib/processes.ts';

interface Config {
  address: string;
  calls: number;
  depth: number;
  warmupMs: number;
  durationMs: number;
  account: string;
  keyPrefix: string;
  linesPerBatch: number;
  lineBytes: number;
}

const cfg = generatorConfig<Config>();
const def = loadSync('logservice/v1/log_streams.proto', { includeDirs: [join(REPO_ROOT, 'proto')], longs: Number, defaults: false });
const service = def['logservice.v1.LogStreams'] as Record<string, MethodDefinition<object, object>>;
const push = service.Push!;
const open = service.Open!;

/** One line's text, so that its JSON ({"out":"…\n"}) is `bytes` long, as the HTTP generator sends. */
function out(n: number, bytes: number): string {
  const head = `line ${n} `;
  return head + 'x'.repeat(Math.max(0, bytes - 12 - head.length)) + '\n';
}
const lines = Array.from({ length: cfg.linesPerBatch }, (_, i) => ({ out: out(i, cfg.lineBytes) }));
const identity = (b: Buffer) => b;

const start = performance.now();
const windowStart = start + cfg.warmupMs;
const windowEnd = windowStart + cfg.durationMs;
let counted = 0;
let total = 0;
const errors: string[] = [];

async function runCall(index: number): Promise<void> {
  const key = `${cfg.keyPrefix}/${index}`;
  const client = new grpc.Client(cfg.address, grpc.credentials.createInsecure());
  try {
    await new Promise<void>((resolve, reject) =>
      client.makeUnaryRequest(open.path, open.requestSerialize, identity, { accountId: cfg.account, key }, (err) => (err ? reject(err) : resolve())),
    );
    const first = push.requestSerialize({ accountId: cfg.account, key, lines });
    const next = push.requestSerialize({ lines });
    const call = client.makeBidiStreamRequest(push.path, identity, identity);
    await new Promise<void>((done) => {
      let inFlight = 0;
      let sent = 0;
      let stopping = false;
      const send = () => {
        while (!stopping && inFlight < cfg.depth) {
          if (performance.now() >= windowEnd) {
            stopping = true;
            call.end();
            return;
          }
          inFlight++;
          call.write(sent++ === 0 ? first : next);
        }
      };
      call.on('data', () => {
        inFlight--;
        total++;
        const now = performance.now();
        if (now >= windowStart && now < windowEnd) counted++;
        send();
      });
      call.on('error', (err: grpc.ServiceError) => errors.push(`call ${index}: ${err.code} ${err.details}`));
      call.on('status', () => done());
      send();
    });
  } finally {
    client.close();
  }
}

await Promise.all(Array.from({ length: cfg.calls }, (_, i) => runCall(i)));
finish({
  lines_per_s: (counted * cfg.linesPerBatch) / (cfg.durationMs / 1000),
  batches: counted,
  total_batches: total,
  errors: errors.slice(0, 5),
});
