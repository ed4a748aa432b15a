// A raw (`…/raw`) tail read with node:http: the body as text so far, the
// X-Log-Offset it started at, and waits bounded in time.
import http from 'node:http';

export interface RawSession {
  status: number;
  offset: string | undefined;
  headers: http.IncomingHttpHeaders;
  code?: string;
  text(): string;
  done(): boolean;
  ended(ms?: number): Promise<void>;
  until(predicate: (text: string) => boolean, ms?: number): Promise<void>;
  close(): void;
}

/** GET …/raw; resolves when the response headers arrive (rejects after `headersMs`). */
export function openRaw(url: string, headersMs = 10000, requestHeaders: Record<string, string> = {}): Promise<RawSession> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: requestHeaders }, (res) => {
      let body = '';
      let done = false;
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        done = true;
      });
      res.on('close', () => {
        done = true;
      });
      const waitFor = async (cond: () => boolean, ms: number, what: string) => {
        const deadline = Date.now() + ms;
        while (!cond()) {
          if (Date.now() > deadline) throw new Error(`${what} not reached in ${ms} ms; got ${JSON.stringify(body.slice(-200))}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      const session: RawSession = {
        status: res.statusCode ?? 0,
        offset: res.headers['x-log-offset'] as string | undefined,
        headers: res.headers,
        text: () => body,
        done: () => done,
        ended: (ms = 5000) => waitFor(() => done, ms, 'end'),
        until: (p, ms = 5000) => waitFor(() => p(body), ms, 'condition'),
        close: () => req.destroy(),
      };
      if (session.status >= 400) {
        res.on('end', () => {
          session.code = (/"error_code":"(\w+)"/.exec(body) ?? [])[1];
          resolve(session);
        });
        return;
      }
      resolve(session);
    });
    req.setTimeout(headersMs, () => req.destroy(new Error(`no response headers within ${headersMs} ms from ${url}`)));
    req.on('response', () => req.setTimeout(0));
    req.on('error', reject);
  });
}
