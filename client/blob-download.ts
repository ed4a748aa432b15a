// A download as a Node Readable that streams the response body with
// backpressure (nothing is buffered beyond the Readable's high-water mark).
// When the connection breaks mid-body it resumes where it stopped with
// `Range: bytes=<received>-` (RFC 9110 §14.2), but only if the server answers
// 206 for the same representation (same ETag, RFC 9110 §8.8.3) — otherwise
// the Readable fails rather than splice two different blobs together.
import { Readable } from 'node:stream';
import { asClientError, type HttpTransport, type LiveResponse } from './http-transport.ts';
import { LogServiceError } from './log-service-error.ts';
import type { ByteRange, DownloadOptions } from './types.ts';

export interface DownloadTarget {
  url: URL;
  /** False for links (no token). */
  credentials: boolean;
}

/** RFC 9110 §14.1.2: `bytes=first-last`, `bytes=first-`, `bytes=-suffix`. */
function rangeHeader(range: ByteRange): string {
  if ('suffix' in range) return `bytes=-${range.suffix}`;
  return `bytes=${range.start}-${range.end ?? ''}`;
}

export async function openDownload(transport: HttpTransport, target: DownloadTarget, options: DownloadOptions = {}): Promise<Readable> {
  const headers: Record<string, string> = {};
  if (options.range !== undefined) headers.range = rangeHeader(options.range);
  // Destroying the Readable early (the consumer gave up) must also end a read that is waiting on the network.
  const destroyed = new AbortController();
  const signal = options.signal === undefined ? destroyed.signal : AbortSignal.any([options.signal, destroyed.signal]);
  const request = {
    method: 'GET' as const,
    url: target.url,
    idempotent: true,
    credentials: target.credentials,
    signal,
    timeoutMs: options.timeoutMs,
  };
  const first = await transport.send({ ...request, headers });
  first.deadline.pause(); // restarted when the consumer starts reading
  if (options.range !== undefined && first.response.status !== 206) {
    first.deadline.dispose();
    await first.response.body?.cancel();
    throw new LogServiceError(
      'LOGSVC_BAD_RESPONSE',
      `GET ${target.url.href}: asked for ${headers.range ?? ''} but the server sent the whole blob (${first.response.status})`,
      { status: first.response.status },
    );
  }
  const lengthHeader = first.response.headers.get('content-length');
  const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  const etag = first.response.headers.get('etag');
  const resumable = options.range === undefined && first.response.status === 200 && etag !== null && total !== undefined;

  async function* chunks(): AsyncGenerator<Buffer> {
    let live: LiveResponse = first;
    let received = 0;
    let resumes = 0;
    options.onProgress?.({ transferred: 0, total });
    first.deadline.touch();
    for (;;) {
      const current = live;
      const body = current.response.body;
      if (body === null) break;
      const reader = body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          received += value.length;
          options.onProgress?.({ transferred: received, total });
          current.deadline.pause(); // the consumer's pace is not the server's silence
          yield Buffer.from(value.buffer, value.byteOffset, value.length);
          current.deadline.touch();
        }
        break;
      } catch (err) {
        const failure = asClientError(err, current.deadline, current.method, current.url);
        if (failure.code !== 'LOGSVC_NETWORK' || !resumable || resumes >= transport.config.retries) throw failure;
        resumes++;
        current.deadline.dispose();
        live = await transport.send({ ...request, headers: { range: `bytes=${received}-` } });
        const sameBlob =
          live.response.status === 206 &&
          live.response.headers.get('etag') === etag &&
          (live.response.headers.get('content-range') ?? '').startsWith(`bytes ${received}-`);
        if (!sameBlob) {
          live.deadline.dispose();
          await live.response.body?.cancel();
          throw new LogServiceError('LOGSVC_NETWORK', `${failure.message}; could not resume: the blob changed or the server ignored Range`, {
            method: 'GET',
            url: live.url,
            cause: failure,
          });
        }
      } finally {
        current.deadline.dispose();
        void reader.cancel().catch(() => undefined);
      }
    }
    live.deadline.dispose();
    if (total !== undefined && received !== total) {
      throw new LogServiceError('LOGSVC_NETWORK', `GET ${target.url.href}: the body ended after ${received} of ${total} bytes`, {
        method: 'GET',
        url: target.url.href,
      });
    }
  }

  const readable = Readable.from(chunks(), { objectMode: false });
  readable.once('close', () => destroyed.abort());
  return readable;
}
