// An HTTP proxy in front of s3rver that records every S3 request (method and
// URL) and answers AbortMultipartUpload itself with 204, as S3 does: s3rver
// has no such route. Tests use it to prove which S3 calls the store made, and
// (`intercept`) to make S3 answer as it does when it is full or down, or
// (`delay`) slow but working.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface S3Recorder {
  endpoint: string;
  /** "METHOD /bucket/key?query" of every request so far. */
  readonly requests: readonly string[];
  close(): Promise<void>;
}

/** Answers a request itself instead of forwarding it; true when it did. */
export type S3Intercept = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

/** How long to hold a request before forwarding it (a slow but working S3); 0: at once. */
export type S3Delay = (req: http.IncomingMessage) => number;

export async function startS3Recorder(target: string, intercept?: S3Intercept, delay?: S3Delay): Promise<S3Recorder> {
  const upstream = new URL(target);
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const line = `${req.method ?? 'GET'} ${req.url ?? '/'}`;
    requests.push(line);
    if (intercept?.(req, res)) return;
    if (req.method === 'DELETE' && /[?&]uploadId=/.test(req.url ?? '')) {
      req.resume();
      res.writeHead(204).end();
      return;
    }
    const send = () => {
      const forward = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    };
    const ms = delay?.(req) ?? 0;
    if (ms > 0) {
      req.pause();
      setTimeout(send, ms);
    } else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
