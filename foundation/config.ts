// Configuration, read once at the edge (CONTRIBUTING.md, habit 3): environment + `.env` in the
// working directory → one validated, frozen object. Nothing else reads
// process.env. Names follow the Harness log-service where they exist (docs/CONFIGURATION.md).
import { existsSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { parseScribeSize } from './scribe-size.ts';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bytes = (min: number) =>
  z.string().transform((v, ctx) => {
    const n = parseByteSize(v);
    if (n === undefined || n < min) {
      ctx.addIssue({ code: 'custom', message: `expected a size such as 65536, 64KiB or 8MiB (at least ${min} bytes)` });
      return z.NEVER;
    }
    return n;
  });
const bind = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8079 or :8079')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'the port must be 0-65535');

const schema = z.object({
  LOG_SERVICE_HTTP_BIND: bind.default('127.0.0.1:8079'),
  LOG_SERVICE_GRPC_BIND: bind.optional(),
  LOG_SERVICE_TAIL_BIND: bind.optional(),
  LOG_SERVICE_GLOBAL_TOKEN: z.string().min(1).optional(),
  LOG_SERVICE_SECRET: z.string().min(1).optional(),
  LOG_SERVICE_DISABLE_AUTH: bool.default(false),
  LOG_SERVICE_ACCOUNT_TOKEN_TTL_SECONDS: int(1, 365 * 24 * 3600).default(48 * 3600),
  LOG_SERVICE_LMDB_PATH: z.string().min(1).default('./data/log-service.lmdb'),
  LOG_SERVICE_S3_BUCKET: z.string().min(1).optional(),
  LOG_SERVICE_S3_PREFIX: z.string().default(''),
  LOG_SERVICE_S3_ENDPOINT: z.url().optional(),
  LOG_SERVICE_S3_PATH_STYLE: bool.default(false),
  LOG_SERVICE_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  LOG_SERVICE_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  LOG_SERVICE_S3_REGION: z.string().min(1).default('us-east-1'),
  LOG_SERVICE_REDIS_ENDPOINT: z.string().min(1).optional(),
  LOG_SERVICE_REDIS_PASSWORD: z.string().min(1).optional(),
  LOG_SERVICE_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'expected redis://… or rediss://…')
    .optional(),
  LOG_SERVICE_REDIS_USE_TLS: bool.default(false),
  LOG_SERVICE_REDIS_CA_FILE: z.string().min(1).optional(),
  LOG_SERVICE_REDIS_SENTINELS: z.string().min(1).optional(),
  LOG_SERVICE_REDIS_USE_SENTINEL: bool.optional(),
  LOG_SERVICE_REDIS_SENTINEL_NAME: z.string().min(1).default('mymaster'),
  LOG_SERVICE_REDIS_CLUSTER_NODES: z.string().min(1).optional(),
  LOG_SERVICE_TLS_CERT_FILE: z.string().min(1).optional(),
  LOG_SERVICE_TLS_KEY_FILE: z.string().min(1).optional(),
  LOG_SERVICE_TLS_CA_FILE: z.string().min(1).optional(),
  LOG_SERVICE_LINK_EXPIRY_SECONDS: int(1, 7 * 24 * 3600).default(3600),
  LOG_SERVICE_PUBLIC_URL: z.url().optional(),
  LOG_SERVICE_STREAM_MAX_LINES: int(1, 10_000_000).default(10_000),
  LOG_SERVICE_STREAM_MAX_BYTES: bytes(1024).default(32 * 1024 * 1024),
  LOG_SERVICE_STREAM_TTL_SECONDS: int(1, 30 * 24 * 3600).default(5 * 3600),
  LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: int(0, 3600).default(60),
  LOG_SERVICE_MAX_LINE_BYTES: bytes(256).default(64 * 1024),
  LOG_SERVICE_MAX_PUSH_BYTES: bytes(1024).default(64 * 1024 * 1024),
  LOG_SERVICE_MAX_PUSH_LINES: int(1, 1_000_000).default(25_000),
  LOG_SERVICE_MAX_BLOB_BYTES: bytes(0).optional(),
  LOG_SERVICE_PING_INTERVAL_SECONDS: z.coerce.number().min(0.05).max(3600).default(15),
  LOG_SERVICE_ZIP_MAX_ENTRIES: int(1, 1_000_000).default(10_000),
  LOG_SERVICE_MAX_TAILS_PER_ACCOUNT: int(1, 10_000_000).default(10_000),
  LOG_SERVICE_MAX_STREAMS: int(1, 10_000_000).default(10_000),
  LOG_SERVICE_STREAM_MEMORY_BYTES: bytes(1024 * 1024).optional(),
  LOG_SERVICE_TAIL_MAX_SECONDS: z.coerce
    .number()
    .min(1)
    .max(7 * 24 * 3600)
    .default(3600),
  LOG_SERVICE_MAX_HEADER_BYTES: bytes(1024).default(16 * 1024),
  LOG_SERVICE_REQUEST_TIMEOUT_SECONDS: z.coerce.number().min(1).max(3600).default(60),
  LOG_SERVICE_CORS_ORIGINS: z.string().min(1).optional(),
  LOG_SERVICE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_SERVICE_SHUTDOWN_GRACE_SECONDS: z.coerce.number().min(0).max(600).default(10),
  LOG_SERVICE_SCRIBE_DIR: z.string().min(1).optional(),
  LOG_SERVICE_SCRIBE_MAX_SIZE: z
    .string()
    .transform((v, ctx) => {
      const n = parseScribeSize(v);
      if (n === undefined) {
        ctx.addIssue({ code: 'custom', message: 'expected a go-scribe size such as 100KB, 5MB, 0.01GB, a byte count, or -1 (never rotate)' });
        return z.NEVER;
      }
      return n;
    })
    .default(1_000_000),
  LOG_SERVICE_SCRIBE_CONSOLE: bool.default(false),
});

/**
 * Other names accepted for the same settings: the seed's MinIO names,
 * livelog's TLS names, the Harness log-service's Redis names, AWS's region.
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are deliberately not aliased: the
 * SDK's default chain reads them together with AWS_SESSION_TOKEN, so
 * temporary credentials work and a key is never paired with another
 * family's secret.
 */
const ALIASES: Record<string, string[]> = {
  LOG_SERVICE_S3_BUCKET: ['LOG_SERVICE_MINIO_BUCKET'],
  LOG_SERVICE_S3_PREFIX: ['LOG_SERVICE_MINIO_PREFIX'],
  LOG_SERVICE_S3_ENDPOINT: ['LOG_SERVICE_MINIO_ENDPOINT'],
  LOG_SERVICE_S3_PATH_STYLE: ['LOG_SERVICE_MINIO_PATH_STYLE'],
  LOG_SERVICE_S3_ACCESS_KEY_ID: ['LOG_SERVICE_MINIO_ACCESS_KEY_ID'],
  LOG_SERVICE_S3_SECRET_ACCESS_KEY: ['LOG_SERVICE_MINIO_SECRET_ACCESS_KEY'],
  LOG_SERVICE_S3_REGION: ['LOG_SERVICE_MINIO_REGION', 'AWS_REGION', 'AWS_DEFAULT_REGION'],
  LOG_SERVICE_REDIS_USE_TLS: ['LOG_SERVICE_REDIS_SSL_ENABLED'],
  LOG_SERVICE_REDIS_CA_FILE: ['LOG_SERVICE_REDIS_SSL_CA_CERT_PATH'],
  LOG_SERVICE_REDIS_SENTINELS: ['LOG_SERVICE_REDIS_SENTINEL_ADDRS'],
  LOG_SERVICE_REDIS_SENTINEL_NAME: ['LOG_SERVICE_REDIS_MASTER_NAME'],
  LOG_SERVICE_TLS_CERT_FILE: ['SERVER_CRT_FILE'],
  LOG_SERVICE_TLS_KEY_FILE: ['SERVER_KEY_FILE'],
};

export interface Config {
  http: { host: string; port: number; publicUrl?: string; maxHeaderBytes: number; requestTimeoutSeconds: number };
  /** The gRPC listener (docs/GRPC.md); off unless LOG_SERVICE_GRPC_BIND is set. Same TLS and auth as HTTP. */
  grpc?: { host: string; port: number };
  /** The tail port (docs/TAILSRV.md §6): log streams over tailsrv's grammar; off unless LOG_SERVICE_TAIL_BIND is set. Same TLS and auth as HTTP. */
  tail?: { host: string; port: number };
  auth: { globalToken?: string; secret?: string; disabled: boolean; accountTokenTtlSeconds: number };
  tls?: { certFile: string; keyFile: string; caFile?: string };
  cors: { origins: '*' | string[] };
  lmdb: { path: string };
  s3?: {
    bucket: string;
    prefix: string;
    endpoint?: string;
    pathStyle: boolean;
    region: string;
    accessKeyId?: string;
    secretAccessKey?: string;
  };
  redis?: {
    url?: string;
    endpoint?: string;
    password?: string;
    tls: boolean;
    caFile?: string;
    sentinels?: string[];
    sentinelName: string;
    clusterNodes?: string[];
  };
  stream: { maxLines: number; maxBytes: number; ttlSeconds: number; maxLineBytes: number; closedGraceSeconds: number };
  /** Streams the in-memory backend holds at once (open + closed in their grace period). */
  memoryMaxStreams: number;
  /** Bytes of lines the in-memory backend holds across all its streams (default: a quarter of the machine's memory). */
  memoryBudgetBytes: number;
  limits: {
    maxPushBytes: number;
    /** Lines of one push kept (its newest; the older are dropped), at least the ring's maxLines (docs/PROTOCOL.md §4.3). */
    maxPushLines: number;
    maxBlobBytes?: number;
    zipMaxEntries: number;
    maxTailsPerAccount: number;
    tailMaxSeconds: number;
    pingIntervalSeconds: number;
  };
  linkExpirySeconds: number;
  logLevel: z.infer<typeof schema>['LOG_SERVICE_LOG_LEVEL'];
  shutdownGraceSeconds: number;
  /**
   * go-scribe's file output (docs/SCRIBE.md §3): every stored line also goes to
   * `dir` (when set) with size rotation at `maxBytes` (-1: never), and to stdout with `console`.
   */
  scribe?: { dir?: string; maxBytes: number; console: boolean };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Accepts 1234, 64k, 64KiB, 8M, 8MiB, 1G, 1GiB (binary units). */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+)\s*([kmg]?)(i?b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = (m[2] ?? '').toLowerCase();
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Number(m[1]) * mult;
}

/** Reads `.env` from `cwd` (when present) under the real environment, which wins. */
export function readEnvironment(env: NodeJS.ProcessEnv, cwd: string): Record<string, string | undefined> {
  const file = resolve(cwd, '.env');
  const fromFile = existsSync(file) ? parseDotenv(readFileSync(file)) : {};
  return { ...fromFile, ...env };
}

export function loadConfig(raw: Record<string, string | undefined>): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const names = [key, ...(ALIASES[key] ?? [])];
    const found = names.map((n) => raw[n]).find((v) => v !== undefined && v !== '');
    if (found !== undefined) input[key] = found;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map(
        (i) => `${i.path.join('.')}: ${i.message}${input[String(i.path[0])] !== undefined ? ` (got "${input[String(i.path[0])]}")` : ''}`,
      ),
    );
  }
  const e = parsed.data;
  const problems: string[] = [];
  const [host, port] = splitBind(e.LOG_SERVICE_HTTP_BIND);
  if ((e.LOG_SERVICE_TLS_CERT_FILE === undefined) !== (e.LOG_SERVICE_TLS_KEY_FILE === undefined)) {
    problems.push('LOG_SERVICE_TLS_CERT_FILE and LOG_SERVICE_TLS_KEY_FILE must be set together');
  }
  if (e.LOG_SERVICE_TLS_CA_FILE !== undefined && e.LOG_SERVICE_TLS_CERT_FILE === undefined) {
    problems.push('LOG_SERVICE_TLS_CA_FILE (mutual TLS) needs LOG_SERVICE_TLS_CERT_FILE and LOG_SERVICE_TLS_KEY_FILE');
  }
  for (const f of ['LOG_SERVICE_TLS_CERT_FILE', 'LOG_SERVICE_TLS_KEY_FILE', 'LOG_SERVICE_TLS_CA_FILE', 'LOG_SERVICE_REDIS_CA_FILE'] as const) {
    const path = e[f];
    if (path !== undefined && !existsSync(path)) problems.push(`${f}: no such file "${path}"`);
  }
  if ((e.LOG_SERVICE_S3_ACCESS_KEY_ID === undefined) !== (e.LOG_SERVICE_S3_SECRET_ACCESS_KEY === undefined)) {
    problems.push(
      "LOG_SERVICE_S3_ACCESS_KEY_ID and LOG_SERVICE_S3_SECRET_ACCESS_KEY must be set together (or neither, for the AWS SDK's default credential chain)",
    );
  }
  if (e.LOG_SERVICE_REDIS_USE_SENTINEL === true && e.LOG_SERVICE_REDIS_SENTINELS === undefined) {
    problems.push('LOG_SERVICE_REDIS_USE_SENTINEL: needs LOG_SERVICE_REDIS_SENTINELS (or LOG_SERVICE_REDIS_SENTINEL_ADDRS) = host:port,…');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const list = (v?: string) =>
    v
      ?.split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  // Harness reads its sentinel addresses only when USE_SENTINEL is true; ours count unless it is explicitly false.
  const sentinels = e.LOG_SERVICE_REDIS_USE_SENTINEL === false ? undefined : e.LOG_SERVICE_REDIS_SENTINELS;
  const redisWanted = e.LOG_SERVICE_REDIS_URL ?? e.LOG_SERVICE_REDIS_ENDPOINT ?? sentinels ?? e.LOG_SERVICE_REDIS_CLUSTER_NODES;
  const config: Config = {
    http: {
      host,
      port,
      publicUrl: e.LOG_SERVICE_PUBLIC_URL?.replace(/\/+$/, ''),
      maxHeaderBytes: e.LOG_SERVICE_MAX_HEADER_BYTES,
      requestTimeoutSeconds: e.LOG_SERVICE_REQUEST_TIMEOUT_SECONDS,
    },
    grpc: e.LOG_SERVICE_GRPC_BIND === undefined ? undefined : grpcBind(e.LOG_SERVICE_GRPC_BIND),
    tail: e.LOG_SERVICE_TAIL_BIND === undefined ? undefined : grpcBind(e.LOG_SERVICE_TAIL_BIND),
    auth: {
      globalToken: e.LOG_SERVICE_GLOBAL_TOKEN,
      secret: e.LOG_SERVICE_SECRET ?? e.LOG_SERVICE_GLOBAL_TOKEN,
      disabled: e.LOG_SERVICE_DISABLE_AUTH,
      accountTokenTtlSeconds: e.LOG_SERVICE_ACCOUNT_TOKEN_TTL_SECONDS,
    },
    tls:
      e.LOG_SERVICE_TLS_CERT_FILE !== undefined && e.LOG_SERVICE_TLS_KEY_FILE !== undefined
        ? { certFile: e.LOG_SERVICE_TLS_CERT_FILE, keyFile: e.LOG_SERVICE_TLS_KEY_FILE, caFile: e.LOG_SERVICE_TLS_CA_FILE }
        : undefined,
    // Default "*" only when auth is on: without auth, any web page the developer
    // opens could otherwise read the logs through the browser.
    cors: {
      origins:
        e.LOG_SERVICE_CORS_ORIGINS === undefined
          ? e.LOG_SERVICE_GLOBAL_TOKEN !== undefined && !e.LOG_SERVICE_DISABLE_AUTH
            ? '*'
            : []
          : e.LOG_SERVICE_CORS_ORIGINS.trim() === '*'
            ? '*'
            : (list(e.LOG_SERVICE_CORS_ORIGINS) ?? []),
    },
    lmdb: { path: e.LOG_SERVICE_LMDB_PATH },
    s3:
      e.LOG_SERVICE_S3_BUCKET === undefined
        ? undefined
        : {
            bucket: e.LOG_SERVICE_S3_BUCKET,
            prefix: e.LOG_SERVICE_S3_PREFIX,
            endpoint: e.LOG_SERVICE_S3_ENDPOINT,
            pathStyle: e.LOG_SERVICE_S3_PATH_STYLE,
            region: e.LOG_SERVICE_S3_REGION,
            accessKeyId: e.LOG_SERVICE_S3_ACCESS_KEY_ID,
            secretAccessKey: e.LOG_SERVICE_S3_SECRET_ACCESS_KEY,
          },
    redis:
      redisWanted === undefined
        ? undefined
        : {
            url: e.LOG_SERVICE_REDIS_URL,
            endpoint: e.LOG_SERVICE_REDIS_ENDPOINT,
            password: e.LOG_SERVICE_REDIS_PASSWORD,
            tls: e.LOG_SERVICE_REDIS_USE_TLS,
            caFile: e.LOG_SERVICE_REDIS_CA_FILE,
            sentinels: list(sentinels),
            sentinelName: e.LOG_SERVICE_REDIS_SENTINEL_NAME,
            clusterNodes: list(e.LOG_SERVICE_REDIS_CLUSTER_NODES),
          },
    stream: {
      maxLines: e.LOG_SERVICE_STREAM_MAX_LINES,
      maxBytes: e.LOG_SERVICE_STREAM_MAX_BYTES,
      ttlSeconds: e.LOG_SERVICE_STREAM_TTL_SECONDS,
      maxLineBytes: e.LOG_SERVICE_MAX_LINE_BYTES,
      closedGraceSeconds: e.LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS,
    },
    memoryMaxStreams: e.LOG_SERVICE_MAX_STREAMS,
    memoryBudgetBytes: e.LOG_SERVICE_STREAM_MEMORY_BYTES ?? Math.floor(totalmem() / 4),
    limits: {
      maxPushBytes: e.LOG_SERVICE_MAX_PUSH_BYTES,
      maxPushLines: e.LOG_SERVICE_MAX_PUSH_LINES,
      maxBlobBytes: e.LOG_SERVICE_MAX_BLOB_BYTES,
      zipMaxEntries: e.LOG_SERVICE_ZIP_MAX_ENTRIES,
      maxTailsPerAccount: e.LOG_SERVICE_MAX_TAILS_PER_ACCOUNT,
      tailMaxSeconds: e.LOG_SERVICE_TAIL_MAX_SECONDS,
      pingIntervalSeconds: e.LOG_SERVICE_PING_INTERVAL_SECONDS,
    },
    linkExpirySeconds: e.LOG_SERVICE_LINK_EXPIRY_SECONDS,
    logLevel: e.LOG_SERVICE_LOG_LEVEL,
    shutdownGraceSeconds: e.LOG_SERVICE_SHUTDOWN_GRACE_SECONDS,
    scribe:
      e.LOG_SERVICE_SCRIBE_DIR === undefined && !e.LOG_SERVICE_SCRIBE_CONSOLE
        ? undefined
        : { dir: e.LOG_SERVICE_SCRIBE_DIR, maxBytes: e.LOG_SERVICE_SCRIBE_MAX_SIZE, console: e.LOG_SERVICE_SCRIBE_CONSOLE },
  };
  return deepFreeze(config);
}

function grpcBind(value: string): { host: string; port: number } {
  const [host, port] = splitBind(value);
  return { host, port };
}

function splitBind(value: string): [string, number] {
  const i = value.lastIndexOf(':');
  let host = value.slice(0, i);
  if (host.startsWith('[')) host = host.slice(1, -1);
  return [host === '' ? '0.0.0.0' : host, Number(value.slice(i + 1))];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
