// Readers for long logs (hundreds of thousands of lines) that check as they
// read instead of keeping and re-parsing everything: an SSE reader that
// verifies ids are consecutive and counts `dropped` events, and a raw reader
// that keeps the bytes. Both can pause (a slow viewer) and resume.
import http from 'node:http';

export interface SseCount {
  /** The next id expected (the number of consecutive lines received from `from`). */
  next: number;
  dropped: { from: number; to: number }[];
  /** Set when an id was not the next one. */
  outOfOrder?: string;
  ended: boolean;
  /** Every line's `out` seen (only when `keepText`). */
  text: string[];
  pause(): void;
  resume(): void;
  close(): void;
  /** Resolves when `next` reaches `count` (or the response ended); rejects after `ms`. */
  until(count: number, ms?: number): Promise<void>;
}

export function countSse(url: string, options: { from?: number; keepText?: boolean } = {}): Promise<SseCount> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let buffer = '';
      const state: SseCount = {
        next: options.from ?? 0,
        dropped: [],
        ended: false,
        text: [],
        pause: () => res.pause(),
        resume: () => res.resume(),
        close: () => req.destroy(),
        until: (count, ms = 30_000) =>
          new Promise<void>((done, fail) => {
            const started = Date.now();
            const check = () => {
              if (state.next >= count || state.ended) return done();
              if (Date.now() - started > ms) return fail(new Error(`SSE reader at ${state.next} of ${count} after ${ms} ms`));
              setTimeout(check, 20);
            };
            check();
          }),
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        let start = 0;
        while (end !== -1) {
          const block = buffer.slice(start, end);
          start = end + 2;
          end = buffer.indexOf('\n\n', start);
          if (block.startsWith('id: ')) {
            const nl = block.indexOf('\n');
            const id = Number(block.slice(4, nl));
            if (id !== state.next) state.outOfOrder ??= `id ${id} where ${state.next} was expected`;
            state.next = id + 1;
            if (options.keepText === true) state.text.push((JSON.parse(block.slice(nl + 7)) as { out: string }).out);
          } else if (block.startsWith('event: dropped')) {
            const range = JSON.parse(block.slice(block.indexOf('data: ') + 6)) as { from: number; to: number };
            state.dropped.push(range);
            state.next = range.to + 1;
          }
        }
        buffer = buffer.slice(start);
      });
      res.on('end', () => (state.ended = true));
      res.on('close', () => (state.ended = true));
      resolve(state);
    });
    req.on('error', reject);
  });
}

export interface RawBytes {
  offset: number;
  bytes(): Buffer;
  received: number;
  ended: boolean;
  close(): void;
  until(length: number, ms?: number): Promise<void>;
}

export function readRawBytes(url: string): Promise<RawBytes> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const parts: Buffer[] = [];
      const state: RawBytes = {
        offset: Number(res.headers['x-log-offset']),
        bytes: () => Buffer.concat(parts),
        received: 0,
        ended: false,
        close: () => req.destroy(),
        until: (length, ms = 30_000) =>
          new Promise<void>((done, fail) => {
            const started = Date.now();
            const check = () => {
              if (state.received >= length || state.ended) return done();
              if (Date.now() - started > ms) return fail(new Error(`raw reader at ${state.received} of ${length} bytes after ${ms} ms`));
              setTimeout(check, 20);
            };
            check();
          }),
      };
      res.on('data', (chunk: Buffer) => {
        parts.push(chunk);
        state.received += chunk.length;
      });
      res.on('end', () => (state.ended = true));
      res.on('close', () => (state.ended = true));
      resolve(state);
    });
    req.on('error', reject);
  });
}
