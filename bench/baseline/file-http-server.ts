// late_joiners' baseline: a bare node:http server that answers every GET with
// one finished file (fs.createReadStream(file).pipe(res)), whatever the path.
// The floor of serving the same bytes to the same readers over HTTP in Node.
// Usage: node --import=tsx bench/baseline/file-http-server.ts <port> <file>
import { createReadStream } from 'node:fs';
import http from 'node:http';

const port = Number(process.argv[2]);
const file = process.argv[3]!;
http
  .createServer((req, res) => {
    if (req.url === '/ready') {
      res.end('ok');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Log-Offset': '0' });
    createReadStream(file).pipe(res);
  })
  .listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
