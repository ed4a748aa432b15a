// idle_viewers' baseline: a bare node:http server that answers every GET as
// an SSE response (the service's first bytes: `retry:` and a `: ping`) and
// holds it open, idle. One shared timer pings every response every 15 s, as
// the service's keep-alive would (docs/PROTOCOL.md §6.5). What 10 000 idle
// SSE connections cost with nothing but node:http.
// Usage: node --import=tsx bench/baseline/idle-sse-server.ts <port>
import http from 'node:http';

const port = Number(process.argv[2]);
const open = new Set<http.ServerResponse>();
const server = http.createServer((req, res) => {
  if (req.url === '/ready') {
    res.end('ok');
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  res.write('retry: 2000\n\n: ping\n\n');
  open.add(res);
  res.on('close', () => open.delete(res));
});
server.headersTimeout = 0;
server.requestTimeout = 0;
server.listen(port, '127.0.0.1');
setInterval(() => {
  for (const res of open) res.write(': ping\n\n');
}, 15_000).unref();
process.on('SIGTERM', () => process.exit(0));
