// The typed client (DESIGN §2 `client/`): what pipelines embed and the CLI is
// built on. Streams and blobs are addressed by CI ids {project, build, stage,
// step} (path routes) or by Harness {accountID, key} (query routes).
import type { Readable } from 'node:stream';
import { openDownload } from './blob-download.ts';
import { BlobHandle, sendUpload } from './blob-handle.ts';
import { clientOptionsFromEnv, type ClientEnvironment } from './client-env.ts';
import type { GrpcStreams } from './grpc-streams.ts';
import { HttpTransport } from './http-transport.ts';
import { linkUrl } from './link.ts';
import { LogServiceError } from './log-service-error.ts';
import { streamInfoRoute } from './routes.ts';
import { StreamHandle } from './stream-handle.ts';
import { hasTlsMaterial, readTlsMaterial } from './tls-dispatcher.ts';
import type {
  Address,
  CallOptions,
  DownloadOptions,
  Link,
  LogServiceClientOptions,
  OpenStream,
  StreamInfo,
  TokenRequest,
  UploadOptions,
  UploadSource,
} from './types.ts';

const DEFAULTS = {
  server: 'http://127.0.0.1:8079',
  timeoutMs: 30_000,
  retries: 3,
  retryDelayMs: 200,
  pushRetryForMs: 5 * 60_000,
  userAgent: 'log-service-client/0.1',
};

export class LogServiceClient {
  private readonly transport: HttpTransport;
  /** Set for a grpc:// or grpcs:// server URL: the stream calls' gRPC channel, made on first use. */
  private readonly grpc: (() => Promise<GrpcStreams>) | undefined;

  /**
   * A client configured from the environment: `LOG_SERVICE_SERVER` and
   * `LOG_SERVICE_TOKEN` (the CLI's names), with `overrides` winning. The
   * environment's token goes only with the environment's server: when
   * `overrides.server` is given, pass `overrides.token` too.
   *
   *   const client = LogServiceClient.fromEnv();                       // process.env
   *   const client = LogServiceClient.fromEnv(process.env, { timeoutMs: 5000 });
   */
  static fromEnv(env?: ClientEnvironment, overrides?: LogServiceClientOptions): LogServiceClient {
    return new LogServiceClient(clientOptionsFromEnv(env, overrides));
  }

  /** A client that uses `options` and nothing else (no environment variable is read; see `fromEnv`). */
  constructor(options: LogServiceClientOptions = {}) {
    const serverOption = options.server ?? DEFAULTS.server;
    const token = options.token === null ? undefined : nonEmpty(options.token);
    let server: URL;
    try {
      server = new URL(serverOption);
    } catch {
      throw new TypeError(`invalid server URL: ${String(serverOption)}`);
    }
    const grpc = server.protocol === 'grpc:' || server.protocol === 'grpcs:';
    if (server.protocol !== 'http:' && server.protocol !== 'https:' && !grpc) {
      throw new TypeError(`invalid server URL: ${server.href} (expected http://, https://, or grpc:// / grpcs:// for streams over gRPC)`);
    }
    if (grpc && (server.port === '' || (server.pathname !== '' && server.pathname !== '/'))) {
      throw new TypeError(`invalid server URL: ${server.href} (a gRPC server URL is grpc://host:port or grpcs://host:port)`);
    }
    if (server.username !== '' || server.password !== '') {
      throw new TypeError('invalid server URL: it must not contain a user name or password (use the token option)');
    }
    const tls = { ca: options.ca, cert: options.cert, key: options.key };
    const material = hasTlsMaterial(tls) ? readTlsMaterial(tls) : undefined;
    if (grpc) {
      // Streams go over gRPC, loaded on first use (grpc-streams.ts); the HTTP transport below serves nothing then.
      const target = { address: server.host, tls: server.protocol === 'grpcs:', ...material, token };
      const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
      let connecting: Promise<GrpcStreams> | undefined;
      this.grpc = () => (connecting ??= import('./grpc-streams.ts').then(({ GrpcStreams: G }) => G.connect(target, timeoutMs)));
      server = new URL(`${server.protocol === 'grpcs:' ? 'https' : 'http'}://${server.host}`);
    }
    this.transport = new HttpTransport({
      server,
      token,
      timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      retries: Math.max(0, options.retries ?? DEFAULTS.retries),
      retryDelayMs: options.retryDelayMs ?? DEFAULTS.retryDelayMs,
      pushRetryForMs: Math.max(0, options.pushRetryForMs ?? DEFAULTS.pushRetryForMs),
      userAgent: options.userAgent ?? DEFAULTS.userAgent,
      tls: material,
    });
  }

  /** The base URL calls go to. */
  get server(): URL {
    return new URL(this.transport.config.server.href);
  }

  /** A live stream: open, push, close, info, tail. */
  stream(address: Address): StreamHandle {
    return new StreamHandle(
      this.transport,
      address,
      async (signal) => {
        const accountID = 'accountID' in address ? address.accountID : undefined;
        const streams = await this.listStreams({ accountID, signal });
        return new Map(streams.map(({ key, ...info }) => [key, info]));
      },
      this.grpc,
    );
  }

  /** A blob: upload, download, exists, delete, links. */
  blob(address: Address): BlobHandle {
    this.needsHttp('blobs');
    return new BlobHandle(this.transport, address);
  }

  /** gRPC serves the stream calls only (docs/GRPC.md): the rest needs an http(s):// server, said plainly, not as a protocol error. */
  private needsHttp(what: string): void {
    if (this.grpc !== undefined) {
      throw new TypeError(`${what} need an http:// or https:// server: over grpc:// the service has stream open, push, tail, close and info only`);
    }
  }

  /**
   * Mints a token (GET /token; the client's token must be the global token).
   * Without `key`/`access` it is an account token in the Harness format; with
   * them, a token scoped to keys under `key` for reading or for writing.
   */
  async mintToken(request: TokenRequest, options: CallOptions = {}): Promise<string> {
    this.needsHttp('tokens');
    const query: Record<string, string | undefined> = {
      accountID: request.accountID,
      key: request.key,
      access: request.access,
      ttl: request.ttlSeconds === undefined ? undefined : String(request.ttlSeconds),
    };
    const token = await this.transport.text({
      method: 'GET',
      url: this.transport.url('/token', query),
      idempotent: true,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    return token.trim();
  }

  /**
   * Open streams, sorted by key: the caller's account (`GET /ci/streams`), or
   * with `accountID` that account's (`GET /stream/info?accountID=`).
   */
  async listStreams(options: CallOptions & { accountID?: string | undefined } = {}): Promise<OpenStream[]> {
    let streams: unknown;
    if (this.grpc !== undefined) {
      streams = await (await this.grpc()).info(options.accountID, options.timeoutMs);
    } else {
      const route = streamInfoRoute(options.accountID);
      const answer = await this.transport.json({
        method: 'GET',
        url: this.transport.url(route.path, route.query),
        idempotent: true,
        signal: options.signal,
        timeoutMs: options.timeoutMs,
      });
      streams = typeof answer === 'object' && answer !== null ? (answer as { streams?: unknown }).streams : undefined;
      if (typeof streams !== 'object' || streams === null) {
        throw new LogServiceError('LOGSVC_BAD_RESPONSE', `GET ${route.path}: expected {"streams": {…}}, got ${JSON.stringify(answer)}`);
      }
    }
    return Object.entries(streams as Record<string, Partial<StreamInfo>>)
      .map(([key, info]) => {
        const stream: OpenStream = { key, size: Number(info.size ?? 0), subscribers: Number(info.subscribers ?? 0), ttl: String(info.ttl ?? '') };
        // A server that says how many lines it holds (a later one may): passed on as it is.
        const held = (info as { held?: unknown }).held;
        if (typeof held === 'number' && Number.isFinite(held)) stream.held = held;
        return stream;
      })
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** PUTs `source` to an upload link (from `uploadLink()`); the link is the credential, no token is sent. */
  async uploadUsingLink(link: string | Link, source: UploadSource, options: UploadOptions = {}): Promise<void> {
    await sendUpload(this.transport, linkUrl(link, this.transport.config.server), false, source, options);
  }

  /** GETs a download link (from `downloadLink()`) as a stream; no token is sent. */
  downloadUsingLink(link: string | Link, options: DownloadOptions = {}): Promise<Readable> {
    return openDownload(this.transport, { url: linkUrl(link, this.transport.config.server), credentials: false }, options);
  }

  /** Releases pooled TLS connections (plain-HTTP connections need no closing), and the gRPC channel. */
  async close(): Promise<void> {
    if (this.grpc !== undefined) (await this.grpc().catch(() => undefined))?.close_();
    return this.transport.close();
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
