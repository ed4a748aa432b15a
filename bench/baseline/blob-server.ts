// Baseline for blobs: a bare node:http server that discards an upload, or
// streams `?size=` bytes from one in-memory 1 MiB buffer with backpressure.
import http from 'node:http';
import { randomBytes } from 'node:crypto';

const CHUNK = randomBytes(1024 * 1024);
const port = Number(process.argv[2]);
http
  .createServer((req, res) => {
    if (req.url === '/ready') {
      res.end('ok');
      return;
    }
    if (req.method === 'PUT' || req.method === 'POST') {
      req.on('data', () => {});
      req.on('end', () => {
        res.writeHead(204);
        res.end();
      });
      return;
    }
    const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size') ?? 0);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size });
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(CHUNK.length, size - sent);
        sent += n;
        if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  })
  .listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
