// Generator for scribe_log: `callers` concurrent loops, each calling go-scribe's
// unary Log (one line, its own file) one after another over one gRPC channel,
// with the request encoded once by hand (no .proto: tag 0x0a filename, 0x12
// path, 0x1a line). Counts calls answered inside the measuring window; any
// failed call is reported.
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { finish, generatorConfig } from '../lib/generator.ts';

interface Config {
  address: string;
  callers: number;
  warmupMs: number;
  durationMs: number;
  lineBytes: number;
}
const cfg = generatorConfig<Config>();
const PATH = '/com.romanostrechlis.scribe.api.LogScribe/Log';
const identity = (b: Buffer): Buffer => b;

function field(tag: number, value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > 127) throw new Error('the generator encodes one-byte lengths only');
  return Buffer.concat([Buffer.from([tag, bytes.length]), bytes]);
}

const client = new Client(cfg.address, credentials.createInsecure());
await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 20_000, (err) => (err ? reject(err) : resolve())));

const start = performance.now();
const windowStart = start + cfg.warmupMs;
const windowEnd = windowStart + cfg.durationMs;
let counted = 0;
const errors: string[] = [];

function call(body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(PATH, identity, identity, body, new Metadata(), { deadline: Date.now() + 10_000 }, (err: ServiceError | null) =>
      err ? reject(err) : resolve(),
    );
  });
}

async function caller(index: number): Promise<void> {
  const line = `caller ${index} `.padEnd(cfg.lineBytes, 'x');
  const body = Buffer.concat([field(0x0a, `caller-${index}`), field(0x12, 'bench/scribe'), field(0x1a, line)]);
  while (performance.now() < windowEnd) {
    try {
      await call(body);
    } catch (err) {
      if (errors.length < 5) errors.push((err as Error).message);
      return;
    }
    const now = performance.now();
    if (now >= windowStart && now < windowEnd) counted++;
  }
}

await Promise.all(Array.from({ length: cfg.callers }, (_, i) => caller(i)));
client.close();
finish({ calls_per_s: counted / (cfg.durationMs / 1000), errors });
