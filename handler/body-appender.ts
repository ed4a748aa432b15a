// A request body appended to a stream's text as it arrives (PUT …/raw, and
// livelog's one long PUT /log): bytes become lines as they come
// (stream/text-append.ts), so viewers see them while the body is still
// being sent. While one append is stored the next chunks gather, up to
// MAX_GATHERED_BYTES, then the request is paused: the memory a producer
// takes is bounded however fast it sends and however long the body is.
import type { IncomingMessage } from 'node:http';
import { ServiceError } from '../foundation/errors.ts';
import type { LogStream } from '../stream/log-stream.ts';
import { appendText } from '../stream/text-append.ts';

/** Bytes gathered while an append is being stored; past them the request waits. */
const MAX_GATHERED_BYTES = 1024 * 1024;

/** The producer's body ended before it was complete (it disconnected): what arrived is stored. */
export class BodyAborted extends Error {
  constructor(readonly length: number) {
    super('the request body was cut off');
  }
}

/** Resolves with the log's length (for appenders) once the whole body is stored; BodyAborted when it was cut off. */
export function appendBody(stream: LogStream, name: string, req: IncomingMessage, maxLineBytes: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let gathered: Buffer[] = [];
    let gatheredBytes = 0;
    let storing = false;
    let ended = false;
    let aborted = false;
    let settled = false;
    let length: number | undefined;

    const settle = (outcome: { error: Error } | { length: number }) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onClose);
      if ('error' in outcome) reject(outcome.error);
      else resolve(outcome.length);
    };

    const store = async () => {
      if (storing || settled) return;
      storing = true;
      try {
        while (gatheredBytes > 0 || (ended && length === undefined)) {
          const bytes = Buffer.concat(gathered, gatheredBytes);
          gathered = [];
          gatheredBytes = 0;
          if (req.isPaused() && !ended) req.resume();
          length = (await appendText(stream, name, bytes, maxLineBytes)).length;
        }
      } catch (err) {
        settle({ error: err as Error });
        return;
      } finally {
        storing = false;
      }
      if (ended && !aborted) settle({ length: length! });
    };

    const onData = (chunk: Buffer) => {
      gathered.push(chunk);
      gatheredBytes += chunk.length;
      if (gatheredBytes >= MAX_GATHERED_BYTES) req.pause();
      void store();
    };
    const onEnd = () => {
      ended = true;
      void store();
    };
    const onClose = () => {
      if (ended || aborted) return;
      // What arrived before the cut is stored first, so the log holds every byte the producer got out.
      aborted = true;
      const stored = async () => {
        while (storing) await new Promise((r) => setImmediate(r));
        try {
          if (gatheredBytes > 0) length = (await appendText(stream, name, Buffer.concat(gathered, gatheredBytes), maxLineBytes)).length;
        } catch {
          // The stream went away meanwhile: nothing more to keep.
        }
        settle({ error: new BodyAborted(length ?? 0) });
      };
      void stored();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onClose);
  });
}

/** 404 before any byte is read when the stream is not open: the producer learns at once. */
export async function requireOpen(stream: LogStream, name: string, key: string): Promise<void> {
  const state = await stream.textState?.(name);
  if (state == null || !state.open) throw new ServiceError('LOGSVC_STREAM_NOT_FOUND', `no open stream "${key}": open it first (POST …/stream)`);
}
