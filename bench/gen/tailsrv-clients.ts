// tailsrv_fanout's clients: `clients` TCP connections that each send `header`
// and count the bytes they receive until `expectedBytes` (then close). For
// every chunk, the last whole line's stamp (file-appender.ts) gives one
// append→receipt latency sample. Reports per-client completion and a
// latency histogram; a client that is not complete by `timeoutMs` counts as
// incomplete. With `sha256`, each client hashes what it received (the
// digests of the complete clients are reported).
import { createHash, type Hash } from 'node:crypto';
import net from 'node:net';
import { finish, generatorConfig, nowMs, post } from '../lib/generator.ts';

interface Config {
  port: number;
  clients: number;
  header: string;
  expectedBytes: number;
  timeoutMs: number;
  /** Whether lines carry stamps worth measuring (not for the baseline's static file). */
  measureLatency: boolean;
  /** Hash every byte each client receives. */
  sha256?: boolean;
}
const cfg = generatorConfig<Config>();
const BUCKET_MS = 0.5;
const histogram: Record<string, number> = {};
const NEWLINE = 0x0a;
const STAMP_AT = 11;
const STAMP_LENGTH = 17;

interface ClientState {
  received: number;
  doneAt?: number;
  hash?: Hash;
  digest?: string;
}
const states: ClientState[] = [];
let done = 0;
let finished = false;
const report = () => {
  if (finished) return;
  finished = true;
  finish({
    complete: states.filter((s) => s.doneAt !== undefined).length,
    clients: states.length,
    received: states.reduce((a, s) => a + s.received, 0),
    connect_start_ms: connectStart,
    last_done_ms: Math.max(0, ...states.map((s) => s.doneAt ?? 0)),
    histogram,
    bucket_ms: BUCKET_MS,
    ...(cfg.sha256 ? { digests: states.flatMap((s) => (s.digest === undefined ? [] : [s.digest])) } : {}),
  });
};

const connectStart = nowMs();
const sockets = await Promise.all(
  Array.from(
    { length: cfg.clients },
    () =>
      new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect(cfg.port, '127.0.0.1', () => resolve(socket));
        socket.once('error', reject);
      }),
  ),
);
post({ connected: true });
const timer = setTimeout(report, cfg.timeoutMs);
for (const socket of sockets) {
  const state: ClientState = { received: 0, ...(cfg.sha256 ? { hash: createHash('sha256') } : {}) };
  states.push(state);
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    state.received += chunk.length;
    state.hash?.update(chunk);
    if (cfg.measureLatency) {
      const lastEnd = chunk.lastIndexOf(NEWLINE);
      const lineStart = lastEnd > 0 ? chunk.lastIndexOf(NEWLINE, lastEnd - 1) + 1 : -1;
      if (lineStart > 0 && lastEnd - lineStart > STAMP_AT + STAMP_LENGTH) {
        const stamp = Number(chunk.toString('latin1', lineStart + STAMP_AT, lineStart + STAMP_AT + STAMP_LENGTH));
        const bucket = Math.floor(Math.max(0, nowMs() - stamp) / BUCKET_MS);
        histogram[bucket] = (histogram[bucket] ?? 0) + 1;
      }
    }
    if (state.doneAt === undefined && state.received >= cfg.expectedBytes) {
      state.doneAt = nowMs();
      state.digest = state.hash?.digest('hex');
      socket.destroy();
      if (++done === cfg.clients) {
        clearTimeout(timer);
        report();
      }
    }
  });
  socket.write(cfg.header);
}
