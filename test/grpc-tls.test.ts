// gRPC transport security (issue 14 §4, docs/GRPC.md "TLS"): the same
// LOG_SERVICE_TLS_* settings as HTTP give one-way TLS, or mutual TLS with a
// CA; a plaintext client, a client without a certificate, and one whose
// certificate comes from another CA are refused; a cert without its key
// refuses to start rather than serve plaintext.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../foundation/config.ts';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { makeTestCerts, type TestCerts } from './support/tls-certs.ts';
import { closeClient, grpc, logStreamsClient, unary } from './support/grpc-client.ts';

/** Info over a fresh channel with `credentials`: 'ok' or the status code. */
async function infoWith(port: number, credentials: grpc.ChannelCredentials): Promise<'ok' | grpc.status> {
  const client = logStreamsClient(`localhost:${port}`, credentials);
  try {
    await unary(client, 'Info', {}, undefined, { deadline: Date.now() + 5000 });
    return 'ok';
  } catch (err) {
    return (err as grpc.ServiceError).code;
  } finally {
    closeClient(client);
  }
}

describe('gRPC over TLS', function () {
  this.timeout(30_000);
  let certs: TestCerts;
  before(() => {
    certs = makeTestCerts();
  });
  after(() => rmSync(certs.dir, { recursive: true, force: true }));

  describe('one-way TLS (cert and key)', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({
        LOG_SERVICE_GRPC_BIND: '127.0.0.1:0',
        LOG_SERVICE_TLS_CERT_FILE: certs.serverCert,
        LOG_SERVICE_TLS_KEY_FILE: certs.serverKey,
      });
    });
    after(() => server.destroy());

    it('serves a client that trusts the CA, and refuses a plaintext one', async () => {
      assert.equal(await infoWith(server.grpcPort!, grpc.credentials.createSsl(certs.read(certs.caFile))), 'ok');
      assert.equal(await infoWith(server.grpcPort!, grpc.credentials.createInsecure()), grpc.status.UNAVAILABLE);
    });
  });

  describe('mutual TLS (cert, key and CA)', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({
        LOG_SERVICE_GRPC_BIND: '127.0.0.1:0',
        LOG_SERVICE_TLS_CERT_FILE: certs.serverCert,
        LOG_SERVICE_TLS_KEY_FILE: certs.serverKey,
        LOG_SERVICE_TLS_CA_FILE: certs.caFile,
      });
    });
    after(() => server.destroy());

    it('serves a client certificate from the CA, and refuses none, or one from another CA', async () => {
      const ca = certs.read(certs.caFile);
      assert.equal(await infoWith(server.grpcPort!, grpc.credentials.createSsl(ca, certs.read(certs.clientKey), certs.read(certs.clientCert))), 'ok');
      assert.equal(await infoWith(server.grpcPort!, grpc.credentials.createSsl(ca)), grpc.status.UNAVAILABLE, 'no client certificate');
      assert.equal(
        await infoWith(server.grpcPort!, grpc.credentials.createSsl(ca, certs.read(certs.strangerKey), certs.read(certs.strangerCert))),
        grpc.status.UNAVAILABLE,
        'a client certificate from another CA',
      );
    });
  });

  it('refuses to serve gRPC off loopback without a token, as HTTP does, leaving nothing open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'logsvc-grpc-policy-'));
    try {
      await assert.rejects(
        startTestServer({ LOG_SERVICE_GRPC_BIND: '0.0.0.0:0' }, dir),
        /gRPC listener on 0\.0\.0\.0:0: refusing to serve gRPC on 0\.0\.0\.0:0 without a token/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start with a cert and no key (or a key and no cert), never serving plaintext', () => {
    for (const env of [{ LOG_SERVICE_TLS_CERT_FILE: certs.serverCert }, { LOG_SERVICE_TLS_KEY_FILE: certs.serverKey }]) {
      assert.throws(
        () => loadConfig({ LOG_SERVICE_GRPC_BIND: '127.0.0.1:0', ...env }),
        (err: unknown) => err instanceof ConfigError && /LOG_SERVICE_TLS_CERT_FILE and LOG_SERVICE_TLS_KEY_FILE must be set together/.test(err.message),
      );
    }
  });
});
