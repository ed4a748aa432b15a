// Configuration is validated once, with one clear message per bad value (docs/CONFIGURATION.md).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, parseByteSize } from '../foundation/config.ts';

describe('configuration', () => {
  it('runs on the embedded defaults with no settings at all', () => {
    const c = loadConfig({});
    assert.equal(c.http.host, '127.0.0.1');
    assert.equal(c.http.port, 8079);
    assert.equal(c.lmdb.path, './data/log-service.lmdb');
    assert.equal(c.s3, undefined);
    assert.equal(c.redis, undefined);
    assert.deepEqual(c.stream, { maxLines: 10000, maxBytes: 32 * 1024 * 1024, ttlSeconds: 18000, maxLineBytes: 65536, closedGraceSeconds: 60 });
    assert.equal(c.limits.maxPushBytes, 64 * 1024 * 1024);
    assert.equal(c.linkExpirySeconds, 3600);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.http), 'the config object is frozen');
  });

  it('accepts the seed MinIO names, livelog TLS names and the AWS region as aliases', () => {
    const c = loadConfig({
      LOG_SERVICE_MINIO_BUCKET: 'b',
      LOG_SERVICE_MINIO_ENDPOINT: 'http://127.0.0.1:9000',
      LOG_SERVICE_MINIO_PATH_STYLE: 'true',
      LOG_SERVICE_MINIO_ACCESS_KEY_ID: 'ak',
      LOG_SERVICE_MINIO_SECRET_ACCESS_KEY: 'sk',
      AWS_REGION: 'eu-west-1',
    });
    assert.deepEqual(c.s3, {
      bucket: 'b',
      prefix: '',
      endpoint: 'http://127.0.0.1:9000',
      pathStyle: true,
      region: 'eu-west-1',
      accessKeyId: 'ak',
      secretAccessKey: 'sk',
    });
    assert.throws(() => loadConfig({ SERVER_CRT_FILE: '/nope.crt', SERVER_KEY_FILE: '/nope.key' }), /LOG_SERVICE_TLS_CERT_FILE: no such file/);
  });

  it('leaves AWS_* credentials to the SDK chain, so a session token is never dropped and families never mix', () => {
    assert.throws(
      () =>
        loadConfig({
          LOG_SERVICE_S3_BUCKET: 'b',
          AWS_ACCESS_KEY_ID: 'ak',
          AWS_SECRET_ACCESS_KEY: 'sk',
          AWS_SESSION_TOKEN: 'st',
          LOG_SERVICE_MINIO_ACCESS_KEY_ID: 'minio-key',
        }),
      /LOG_SERVICE_S3_ACCESS_KEY_ID and LOG_SERVICE_S3_SECRET_ACCESS_KEY must be set together/,
      'a MinIO key is never paired with the AWS secret',
    );
    const sdkChain = loadConfig({ LOG_SERVICE_S3_BUCKET: 'b', AWS_ACCESS_KEY_ID: 'ak', AWS_SECRET_ACCESS_KEY: 'sk' });
    assert.equal(sdkChain.s3?.accessKeyId, undefined);
    assert.equal(sdkChain.s3?.secretAccessKey, undefined);
  });

  it('accepts the Harness log-service Redis names', () => {
    const c = loadConfig({
      LOG_SERVICE_REDIS_ENDPOINT: '10.0.0.9:6379',
      LOG_SERVICE_REDIS_SSL_ENABLED: 'true',
      LOG_SERVICE_REDIS_SSL_CA_CERT_PATH: '/etc/hostname',
      LOG_SERVICE_REDIS_USE_SENTINEL: 'true',
      LOG_SERVICE_REDIS_MASTER_NAME: 'logs',
      LOG_SERVICE_REDIS_SENTINEL_ADDRS: '10.0.0.1:26379,10.0.0.2:26379',
    });
    assert.equal(c.redis?.tls, true);
    assert.equal(c.redis?.caFile, '/etc/hostname');
    assert.equal(c.redis?.sentinelName, 'logs');
    assert.deepEqual(c.redis?.sentinels, ['10.0.0.1:26379', '10.0.0.2:26379']);
    const ignored = loadConfig({ LOG_SERVICE_REDIS_USE_SENTINEL: 'false', LOG_SERVICE_REDIS_SENTINEL_ADDRS: '10.0.0.1:26379' });
    assert.equal(ignored.redis, undefined, 'Harness ignores sentinel addresses unless USE_SENTINEL is true');
    assert.throws(() => loadConfig({ LOG_SERVICE_REDIS_USE_SENTINEL: 'true' }), /LOG_SERVICE_REDIS_USE_SENTINEL: needs LOG_SERVICE_REDIS_SENTINELS/);
  });

  it('reads sizes with binary units', () => {
    assert.equal(parseByteSize('64KiB'), 65536);
    assert.equal(parseByteSize('8M'), 8 * 1024 * 1024);
    assert.equal(parseByteSize('1gib'), 1024 ** 3);
    assert.equal(parseByteSize('123'), 123);
    assert.equal(parseByteSize('12 parsecs'), undefined);
    assert.equal(loadConfig({ LOG_SERVICE_MAX_LINE_BYTES: '1KiB' }).stream.maxLineBytes, 1024);
  });

  it('lists every bad value in one error, naming the variable and what it expects', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        LOG_SERVICE_HTTP_BIND: 'localhost',
        LOG_SERVICE_STREAM_MAX_LINES: '0',
        LOG_SERVICE_DISABLE_AUTH: 'maybe',
        LOG_SERVICE_REDIS_URL: 'http://x',
        LOG_SERVICE_LINK_EXPIRY_SECONDS: '-5',
      });
    } catch (err) {
      error = err as ConfigError;
    }
    assert.ok(error instanceof ConfigError);
    const text = error.message;
    for (const name of [
      'LOG_SERVICE_HTTP_BIND',
      'LOG_SERVICE_STREAM_MAX_LINES',
      'LOG_SERVICE_DISABLE_AUTH',
      'LOG_SERVICE_REDIS_URL',
      'LOG_SERVICE_LINK_EXPIRY_SECONDS',
    ]) {
      assert.match(text, new RegExp(`${name}: .+`), name);
    }
    assert.match(text, /got "localhost"/);
    assert.doesNotMatch(text, /got "[^"]*"\)? \(got /, 'each value is quoted once');
    const both = (() => {
      try {
        loadConfig({ LOG_SERVICE_HTTP_BIND: '127.0.0.1:99999', LOG_SERVICE_MAX_LINE_BYTES: '10' });
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    assert.match(both, /LOG_SERVICE_HTTP_BIND: the port must be 0-65535/);
    assert.match(both, /LOG_SERVICE_MAX_LINE_BYTES: expected a size .* \(got "10"\)/, 'a bad port and a bad size are reported together');
  });

  it('refuses half a TLS configuration', () => {
    assert.throws(() => loadConfig({ LOG_SERVICE_TLS_KEY_FILE: '/etc/hostname' }), /must be set together/);
  });

  it('documents every setting in .env.example', () => {
    const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    const source = readFileSync(new URL('../foundation/config.ts', import.meta.url), 'utf8');
    const names = [...source.matchAll(/^\s+(LOG_SERVICE_[A-Z0-9_]+):/gm)].map((m) => m[1]!);
    assert.ok(names.length > 30);
    for (const name of new Set(names)) assert.match(example, new RegExp(`\\b${name}=`), `${name} is missing from .env.example`);
  });
});
