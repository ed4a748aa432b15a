// A signed account token is also checked for a well-formed account name
// (docs/PROTOCOL.md §3): a token whose account holds "/" (which any holder of the secret,
// e.g. a Harness server, could sign) must not open another account's keys.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startTestServer, type TestServer } from './support/in-process-server.ts';

/** Harness's formula, written out independently of handler/account-token.ts. */
function harnessToken(secret: string, accountID: string, expiresAt: number): string {
  const exp = Buffer.alloc(4);
  exp.writeUInt32BE(expiresAt);
  const msg = Buffer.concat([exp, Buffer.from(accountID, 'utf8')]);
  const key = createHmac('sha256', secret).update(msg).digest();
  const sig = createHmac('sha256', key).update(msg).digest();
  return Buffer.concat([msg, sig])
    .toString('base64url')
    .padEnd(Math.ceil((msg.length + 32) / 3) * 4, '=');
}

describe('account names inside tokens', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LOG_SERVICE_GLOBAL_TOKEN: 'global-t0ken', LOG_SERVICE_SECRET: 'the-secret' });
    // acct's key p/b/s/t/x: what an "acct/p" account's CI key b/s/t/x would name internally.
    const put = await fetch(`${server.url}/blob?accountID=acct&key=p/b/s/t/x`, {
      method: 'PUT',
      body: 'acct only',
      headers: { 'X-Harness-Token': 'global-t0ken' },
    });
    assert.equal(put.status, 204);
  });
  after(async () => server?.destroy());

  it('refuses a correctly signed token whose account name is not a valid accountID', async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    for (const account of ['acct/p', 'acct/', '../acct', 'a b', '']) {
      const token = harnessToken('the-secret', account, exp);
      const res = await fetch(`${server.url}/ci/b/s/t/x/blob`, { headers: { 'X-Harness-Token': token } });
      assert.equal(res.status, 403, JSON.stringify(account));
      assert.equal(((await res.json()) as { error_code: string }).error_code, 'LOGSVC_FORBIDDEN');
    }
    const good = await fetch(`${server.url}/blob?accountID=acct&key=p/b/s/t/x`, { headers: { 'X-Harness-Token': harnessToken('the-secret', 'acct', exp) } });
    assert.equal(good.status, 200);
    assert.equal(await good.text(), 'acct only');
  });

  it('hands out account tokens with Cache-Control: no-store', async () => {
    const res = await fetch(`${server.url}/token?accountID=acct`, { headers: { 'X-Harness-Token': 'global-t0ken' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });
});
