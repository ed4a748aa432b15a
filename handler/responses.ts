// The two answers most routes end with. Errors have their own renderer
// (error-response.ts).
import type { ServerResponse } from 'node:http';

export function noContent(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}
