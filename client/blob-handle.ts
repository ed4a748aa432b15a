// One blob (DESIGN §5): streamed upload and download, exists, delete, links.
import type { Readable } from 'node:stream';
import { openDownload } from './blob-download.ts';
import type { HttpTransport } from './http-transport.ts';
import { parseLink } from './link.ts';
import { LogServiceError } from './log-service-error.ts';
import { isCiAddress, keyOf, routeFor, type Resource } from './routes.ts';
import { uploadBody } from './upload-body.ts';
import type { Address, BlobStat, CallOptions, DownloadOptions, Link, UploadOptions, UploadSource } from './types.ts';

export class BlobHandle {
  /** The key the service stores this blob under. */
  readonly key: string;

  constructor(
    private readonly transport: HttpTransport,
    readonly address: Address,
  ) {
    this.key = keyOf(address);
  }

  private url(resource: Resource = 'blob'): URL {
    const route = routeFor(this.address, resource);
    return this.transport.url(route.path, route.query);
  }

  /**
   * Uploads `source` (a file path, bytes, or a Readable), streamed. The blob
   * appears only once the whole body arrived. File paths and bytes are re-sent
   * on a retryable failure; a Readable is sent once.
   */
  async upload(source: UploadSource, options: UploadOptions = {}): Promise<void> {
    await sendUpload(this.transport, this.url(), true, source, options);
  }

  /** The blob (or `range` of it) as a stream. Rejects with LOGSVC_BLOB_NOT_FOUND when there is none. */
  download(options: DownloadOptions = {}): Promise<Readable> {
    return openDownload(this.transport, { url: this.url(), credentials: true }, options);
  }

  /** Size, type and ETag (HEAD), or undefined when there is no such blob. */
  async stat(options: CallOptions = {}): Promise<BlobStat | undefined> {
    const { response, deadline } = await this.transport.send({
      method: 'HEAD',
      url: this.url(),
      idempotent: true,
      accept: [404],
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    deadline.dispose();
    await response.body?.cancel();
    if (response.status === 404) return undefined;
    return {
      size: Number(response.headers.get('content-length') ?? 0),
      contentType: response.headers.get('content-type') ?? undefined,
      etag: response.headers.get('etag') ?? undefined,
    };
  }

  async exists(options: CallOptions = {}): Promise<boolean> {
    if (isCiAddress(this.address)) return (await this.stat(options)) !== undefined;
    const answer = await this.transport.json({
      method: 'GET',
      url: this.url('blob/exists'),
      idempotent: true,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    if (typeof answer !== 'boolean')
      throw new LogServiceError('LOGSVC_BAD_RESPONSE', `GET /blob/exists: expected true or false, got ${JSON.stringify(answer)}`);
    return answer;
  }

  /** Deletes the blob. Idempotent: deleting a blob that is already gone succeeds too (the server answers 204). */
  async delete(options: CallOptions = {}): Promise<void> {
    await this.transport.status({ method: 'DELETE', url: this.url(), idempotent: true, signal: options.signal, timeoutMs: options.timeoutMs });
  }

  /** A link that uploads (PUT) to this key without the service's credentials. */
  async uploadLink(options: CallOptions = {}): Promise<Link> {
    return this.link('blob/link/upload', options);
  }

  /** A link that downloads (GET) this key without the service's credentials. */
  async downloadLink(options: CallOptions = {}): Promise<Link> {
    return this.link('blob/link/download', options);
  }

  private async link(resource: Resource, options: CallOptions): Promise<Link> {
    // Minting a link changes nothing on the server, so it is safe to retry.
    const answer = await this.transport.json({
      method: 'POST',
      url: this.url(resource),
      idempotent: true,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    return parseLink(answer, this.transport.config.server);
  }
}

/** PUT of a streamed body (shared by blob uploads and upload links). */
export async function sendUpload(transport: HttpTransport, url: URL, credentials: boolean, source: UploadSource, options: UploadOptions): Promise<void> {
  const body = await uploadBody(source, options.contentLength, options.onProgress);
  await transport.status({
    method: 'PUT',
    url,
    idempotent: true,
    credentials,
    body,
    headers: { 'content-type': options.contentType ?? 'application/octet-stream' },
    signal: options.signal,
    timeoutMs: options.timeoutMs,
  });
}
