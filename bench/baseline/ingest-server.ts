// Baseline for ingest: a bare node:http server that reads each push body,
// parses the same JSON and discards it. What this machine can do for the same
// bytes with no log-service code at all.
import http from 'node:http';

const port = Number(process.argv[2]);
const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  if (req.url === '/ready') {
    res.end('ok');
    return;
  }
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    if (req.method === 'PUT') {
      const lines = JSON.parse(Buffer.concat(parts).toString('utf8')) as unknown[];
      if (!Array.isArray(lines)) {
        res.writeHead(400);
        res.end();
        return;
      }
    }
    res.writeHead(204);
    res.end();
  });
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
