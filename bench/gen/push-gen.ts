// Ingest load: `connections` keep-alive sockets, each opening its own stream
// (POST) and then pushing the same JSON batch (PUT) with `depth` requests in
// flight. Raw sockets and pre-built request bytes keep the generator's own CPU
// cost small (it shares the machine with the server). Counts 204s completed in
// the measurement window, after a warm-up.
import net from 'node:net';
import { finish, generatorConfig } from '../lib/generator.ts';

interface Config {
  port: number;
  connections: number;
  depth: number;
  warmupMs: number;
  durationMs: number;
  account: string;
  keyPrefix: string;
  linesPerBatch: number;
  lineBytes: number;
}

const cfg = generatorConfig<Config>();

/** One line's JSON, exactly `bytes` long: {"out":"<text>\n"}. */
export function lineJson(n: number, bytes: number): string {
  const head = `{"out":"line ${n} `;
  const tail = '\\n"}';
  return head + 'x'.repeat(Math.max(0, bytes - head.length - tail.length)) + tail;
}

const body = Buffer.from(`[${Array.from({ length: cfg.linesPerBatch }, (_, i) => lineJson(i, cfg.lineBytes)).join(',')}]`);

function request(method: string, key: string, payload?: Buffer): Buffer {
  const head =
    `${method} /stream?accountID=${cfg.account}&key=${encodeURIComponent(key)} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    (payload ? `Content-Type: application/json\r\nContent-Length: ${payload.length}\r\n` : 'Content-Length: 0\r\n') +
    '\r\n';
  return payload ? Buffer.concat([Buffer.from(head), payload]) : Buffer.from(head);
}

const start = performance.now();
const windowStart = start + cfg.warmupMs;
const windowEnd = windowStart + cfg.durationMs;
let counted = 0;
let total = 0;
const errors: string[] = [];

function runConnection(index: number): Promise<void> {
  const key = `${cfg.keyPrefix}/${index}`;
  const open = request('POST', key);
  const push = request('PUT', key, body);
  return new Promise((done) => {
    const socket = net.connect(cfg.port, '127.0.0.1');
    socket.setNoDelay(true);
    let buffered = '';
    let inFlight = 0;
    let opened = false;
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      if (inFlight === 0) socket.end();
    };
    const send = () => {
      while (!stopping && inFlight < cfg.depth) {
        if (performance.now() >= windowEnd) {
          stop();
          return;
        }
        inFlight++;
        socket.write(push);
      }
    };
    socket.on('connect', () => {
      inFlight++;
      socket.write(open);
    });
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let end;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        inFlight--;
        if (!head.startsWith('HTTP/1.1 204')) {
          errors.push(head.split('\r\n')[0] ?? head);
          socket.destroy();
          return;
        }
        if (!opened) {
          opened = true;
          continue;
        }
        total++;
        const now = performance.now();
        if (now >= windowStart && now < windowEnd) counted++;
      }
      if (stopping && inFlight === 0) socket.end();
      else send();
    });
    socket.on('connect', () => setImmediate(send));
    socket.on('error', (err) => {
      errors.push(`connection ${index}: ${err.message}`);
    });
    socket.on('close', () => done());
    // Bounded: whatever happens, this connection is done shortly after the window.
    setTimeout(() => socket.destroy(), cfg.warmupMs + cfg.durationMs + 10_000).unref();
  });
}

await Promise.all(Array.from({ length: cfg.connections }, (_, i) => runConnection(i)));
finish({
  lines_per_s: (counted * cfg.linesPerBatch) / (cfg.durationMs / 1000),
  requests: counted,
  total_requests: total,
  body_bytes: body.length,
  errors: errors.slice(0, 5),
});
