// Upload sources → request bodies that stream (STYLE §8: constant memory): a
// file is read chunk by chunk as the socket takes it, a Readable is pulled
// with backpressure. Files and byte arrays can be produced again for a retry;
// a Readable cannot (its bytes are gone once sent), so such uploads are sent once.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { BodyFactory } from './http-transport.ts';
import type { TransferProgress, UploadSource } from './types.ts';

const SLICE_BYTES = 64 * 1024;

export async function uploadBody(
  source: UploadSource,
  contentLength: number | undefined,
  onProgress: ((progress: TransferProgress) => void) | undefined,
): Promise<BodyFactory> {
  if (typeof source === 'string') {
    const info = await stat(source);
    if (!info.isFile()) throw Object.assign(new Error(`not a regular file: ${source}`), { code: 'EISDIR' });
    return factory(true, info.size, () => createReadStream(source, { highWaterMark: SLICE_BYTES }), onProgress);
  }
  if (source instanceof Uint8Array) {
    return factory(true, source.length, () => slices(source), onProgress);
  }
  let used = false;
  return factory(
    false,
    contentLength,
    () => {
      if (used) throw new Error('a stream body can be sent only once');
      used = true;
      return source;
    },
    onProgress,
  );
}

function factory(
  replayable: boolean,
  length: number | undefined,
  open: () => AsyncIterable<Uint8Array | string> | Iterable<Uint8Array>,
  onProgress: ((progress: TransferProgress) => void) | undefined,
): BodyFactory {
  return {
    replayable,
    length,
    create(onBytes) {
      let transferred = 0;
      return toWebStream(open(), (bytes) => {
        transferred += bytes;
        onBytes(bytes);
        onProgress?.({ transferred, total: length });
      });
    },
  };
}

function* slices(bytes: Uint8Array): Generator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += SLICE_BYTES) yield bytes.subarray(offset, offset + SLICE_BYTES);
}

/**
 * A pull-based web stream over an (async) iterable: the next chunk is read only
 * when fetch asks for it, so the source's backpressure reaches the socket.
 */
function toWebStream(source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array>, onChunk: (bytes: number) => void): ReadableStream<Uint8Array> {
  const iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await iterator.next();
        if (done === true) {
          controller.close();
          return;
        }
        const chunk = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
        onChunk(chunk.length);
        controller.enqueue(chunk);
      },
      async cancel(reason) {
        // Stops the source: a file stream closes its descriptor, a Readable is destroyed.
        await iterator.return?.(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
