// Reads an SSE response over a raw socket and keeps the exact bytes, so tests
// can assert what is on the wire (not what a parser made of it).
import http from 'node:http';

export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  comment?: string[];
}

export interface SseSession {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Everything received so far. */
  raw(): string;
  /** Events parsed so far (comments-only blocks included). */
  events(): SseEvent[];
  /** Resolves when the server ends the response (or rejects after `ms`). */
  ended(ms?: number): Promise<void>;
  /** Resolves when `predicate` holds for the events received (or rejects after `ms`). */
  until(predicate: (events: SseEvent[]) => boolean, ms?: number): Promise<SseEvent[]>;
  /** Stops reading from the socket (a slow viewer) without closing it. */
  pause(): void;
  close(): void;
}

export function parseEvents(text: string): SseEvent[] {
  const blocks = text.split('\n\n');
  blocks.pop(); // incomplete or empty tail
  return blocks.map((block) => {
    const ev: SseEvent = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) (ev.comment ??= []).push(line.slice(1).trim());
      else if (line.startsWith('id: ')) ev.id = line.slice(4);
      else if (line.startsWith('event: ')) ev.event = line.slice(7);
      else if (line.startsWith('data: ')) ev.data = line.slice(6);
    }
    return ev;
  });
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseSession> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      let text = '';
      let done = false;
      const endWaiters: (() => void)[] = [];
      const dataWaiters: (() => void)[] = [];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        for (const w of dataWaiters.splice(0)) w();
      });
      const finish = () => {
        done = true;
        for (const w of endWaiters.splice(0)) w();
        for (const w of dataWaiters.splice(0)) w();
      };
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        raw: () => text,
        events: () => parseEvents(text),
        ended: (ms = 10000) =>
          new Promise<void>((ok, fail) => {
            if (done) return ok();
            const t = setTimeout(() => fail(new Error(`SSE response did not end within ${ms} ms; got:\n${text.slice(-500)}`)), ms);
            endWaiters.push(() => {
              clearTimeout(t);
              ok();
            });
          }),
        until: async (predicate, ms = 10000) => {
          const deadline = Date.now() + ms;
          for (;;) {
            const evs = parseEvents(text);
            if (predicate(evs)) return evs;
            if (done) throw new Error(`SSE ended before the condition held; got:\n${text.slice(-500)}`);
            const left = deadline - Date.now();
            if (left <= 0) throw new Error(`condition not met within ${ms} ms; got:\n${text.slice(-500)}`);
            await new Promise<void>((ok) => {
              const t = setTimeout(ok, Math.min(left, 200));
              dataWaiters.push(() => {
                clearTimeout(t);
                ok();
              });
            });
          }
        },
        pause: () => res.pause(),
        close: () => {
          req.destroy();
        },
      });
    });
    req.on('error', reject);
  });
}

export const lineEvents = (events: SseEvent[]) => events.filter((e) => e.id !== undefined && e.event === undefined);
export const outs = (events: SseEvent[]) => lineEvents(events).map((e) => (JSON.parse(e.data!) as { out: string }).out);
