// An HTTP(S) reader that keeps the body as bytes, says whether the response
// ended cleanly (the chunked terminator or the whole Content-Length) or was
// cut off, and can stop reading (TCP backpressure) and go on later. Every
// wait is bounded in time.
import http from 'node:http';
import https from 'node:https';

export interface ByteReader {
  status: number;
  headers: http.IncomingHttpHeaders;
  bytes(): Buffer;
  received: number;
  /** The response is over: `complete` says whether it ended cleanly. */
  ended: boolean;
  complete: boolean;
  pause(): void;
  resume(): void;
  until(length: number, ms?: number): Promise<void>;
  /** Waits for the end of the response (clean or cut). */
  finished(ms?: number): Promise<void>;
  close(): void;
}

export interface ByteReaderOptions {
  method?: string;
  headers?: Record<string, string>;
  /** The CA to trust for https. */
  ca?: Buffer;
}

/** Resolves once the response headers are in (rejects after 10 s without them). */
export function readBytes(url: string, options: ByteReaderOptions = {}): Promise<ByteReader> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? https.request : http.request;
    const req = get(url, { method: options.method ?? 'GET', headers: options.headers, ca: options.ca, agent: false }, (res) => {
      req.setTimeout(0);
      const parts: Buffer[] = [];
      const wait = (cond: () => boolean, ms: number, what: () => string) =>
        new Promise<void>((done, fail) => {
          const deadline = Date.now() + ms;
          const check = () => {
            if (cond()) return done();
            if (Date.now() > deadline) return fail(new Error(what()));
            setTimeout(check, 10);
          };
          check();
        });
      const reader: ByteReader = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        bytes: () => Buffer.concat(parts),
        received: 0,
        ended: false,
        complete: false,
        pause: () => res.pause(),
        resume: () => res.resume(),
        until: (length, ms = 30_000) =>
          wait(
            () => reader.received >= length || reader.ended,
            ms,
            () => `reader at ${reader.received} of ${length} bytes after ${ms} ms`,
          ),
        finished: (ms = 30_000) =>
          wait(
            () => reader.ended,
            ms,
            () => `response not over after ${ms} ms (${reader.received} bytes)`,
          ),
        close: () => req.destroy(),
      };
      res.on('data', (chunk: Buffer) => {
        parts.push(chunk);
        reader.received += chunk.length;
      });
      res.on('error', () => undefined); // a cut-off response: `complete` stays false
      res.on('end', () => {
        reader.complete = res.complete;
        reader.ended = true;
      });
      res.on('close', () => {
        reader.complete = res.complete;
        reader.ended = true;
      });
      resolve(reader);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no response headers within 10 s from ${url}`)));
    req.on('error', reject);
    req.end();
  });
}
