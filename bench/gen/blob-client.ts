// Blob client: streams `bytes` up (PUT, from one 1 MiB buffer written with
// backpressure) or down (GET, counted and discarded) over one connection.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { finish, generatorConfig } from '../lib/generator.ts';

interface Config {
  port: number;
  path: string;
  mode: 'upload' | 'download';
  bytes: number;
}
const cfg = generatorConfig<Config>();
const CHUNK = randomBytes(1024 * 1024);

const start = performance.now();
const outcome = await new Promise<{ status: number; bytes: number }>((done, fail) => {
  const req = http.request(
    {
      host: '127.0.0.1',
      port: cfg.port,
      path: cfg.path,
      agent: false,
      method: cfg.mode === 'upload' ? 'PUT' : 'GET',
      headers: cfg.mode === 'upload' ? { 'Content-Type': 'application/octet-stream', 'Content-Length': cfg.bytes } : {},
    },
    (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('end', () => done({ status: res.statusCode ?? 0, bytes }));
      res.on('error', fail);
    },
  );
  req.on('error', fail);
  if (cfg.mode === 'download') {
    req.end();
    return;
  }
  let sent = 0;
  const pump = () => {
    while (sent < cfg.bytes) {
      const n = Math.min(CHUNK.length, cfg.bytes - sent);
      sent += n;
      if (!req.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        req.once('drain', pump);
        return;
      }
    }
    req.end();
  };
  pump();
});
const seconds = (performance.now() - start) / 1000;
const moved = cfg.mode === 'upload' ? cfg.bytes : outcome.bytes;
finish({ status: outcome.status, bytes: moved, seconds, mb_per_s: moved / 2 ** 20 / seconds });
