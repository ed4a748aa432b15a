// What unmodified Harness clients expect (issue: Harness clients, unmodified):
// the token under Harness's own query name, GET /info/stream for the global
// token, and the zip answer's `expires` as a time. Over real sockets, against
// the real server process.
import assert from 'node:assert/strict';
import { startServer, type ServerProcess } from './support/server-process.ts';
import { openSse, outs } from './support/sse-reader.ts';

const GLOBAL = 'harness-compat-global';
const admin = { 'X-Harness-Token': GLOBAL };

describe('Harness clients, unmodified', function () {
  this.timeout(60_000);
  let server: ServerProcess;
  let accountToken: string;

  before(async () => {
    server = await startServer({ LOG_SERVICE_GLOBAL_TOKEN: GLOBAL, LOG_SERVICE_SECRET: 'harness-compat-secret', LOG_SERVICE_LOG_LEVEL: 'debug' });
    accountToken = await (await fetch(`${server.url}/token?accountID=acct`, { headers: admin })).text();
  });
  after(() => server.stop());

  async function open(account: string, key: string, text: string): Promise<void> {
    const q = `accountID=${account}&key=${key}`;
    assert.equal((await fetch(`${server.url}/stream?${q}`, { method: 'POST', headers: admin })).status, 204);
    const pushed = await fetch(`${server.url}/stream?${q}`, { method: 'PUT', headers: { ...admin, 'Content-Type': 'text/plain' }, body: text });
    assert.equal(pushed.status, 204);
  }

  describe('?X-Harness-Token=', () => {
    it('opens a tail as ?token= does (EventSource cannot set headers)', async () => {
      await open('acct', 'q/tail', 'hello\n');
      const sse = await openSse(`${server.url}/stream?accountID=acct&key=q/tail&X-Harness-Token=${encodeURIComponent(accountToken)}`);
      try {
        assert.equal(sse.status, 200);
        assert.deepEqual(outs(await sse.until((events) => outs(events).length === 1, 10_000)), ['hello\n']);
      } finally {
        sse.close();
      }
    });

    it('downloads a blob and a raw tail, and is refused on a push like ?token= (401)', async () => {
      const put = await fetch(`${server.url}/blob?accountID=acct&key=q/blob`, { method: 'PUT', headers: admin, body: 'blob text' });
      assert.equal(put.status, 204);
      const got = await fetch(`${server.url}/blob?accountID=acct&key=q/blob&X-Harness-Token=${encodeURIComponent(accountToken)}`);
      assert.equal(got.status, 200);
      assert.equal(await got.text(), 'blob text');
      await open('acct', 'q/raw', 'raw line\n');
      const raw = await fetch(`${server.url}/stream/raw?accountID=acct&key=q/raw&X-Harness-Token=${encodeURIComponent(accountToken)}`);
      assert.equal(raw.status, 200);
      await raw.body?.cancel();
      const push = await fetch(`${server.url}/stream?accountID=acct&key=q/raw&X-Harness-Token=${encodeURIComponent(accountToken)}`, {
        method: 'PUT',
        body: '[]',
      });
      assert.equal(push.status, 401);
      assert.equal(((await push.json()) as { error_code: string }).error_code, 'LOGSVC_UNAUTHORIZED');
    });

    it('is never written to the logs', async () => {
      const secret = 'sup3r-s3cret-harness';
      await (await fetch(`${server.url}/blob?accountID=acct&key=q/none&X-Harness-Token=${secret}`)).arrayBuffer();
      await (await fetch(`${server.url}/blob?accountID=acct&key=q/none&x-harness-token=${secret}-lower`)).arrayBuffer();
      await new Promise((r) => setTimeout(r, 300));
      const out = server.output();
      assert.match(out, /X-Harness-Token=\[redacted\]/);
      assert.match(out, /x-harness-token=\[redacted\]/);
      assert.doesNotMatch(out, /sup3r-s3cret/);
    });
  });

  describe('opening an open stream again', () => {
    for (const family of ['harness', 'ci'] as const) {
      it(`starts it empty on the ${family} routes; its viewers get event: restart and go on with the new run`, async () => {
        const path = family === 'harness' ? '/stream?accountID=acct&key=reopen/h' : '/ci/reopen/1/s/t/stream?accountID=acct';
        const openIt = async () => assert.equal((await fetch(`${server.url}${path}`, { method: 'POST', headers: admin })).status, 204);
        const pushIt = async (text: string) => {
          const res = await fetch(`${server.url}${path}`, { method: 'PUT', headers: { ...admin, 'Content-Type': 'text/plain' }, body: text });
          assert.equal(res.status, 204);
        };
        await openIt();
        await pushIt('run 1\n');
        const sse = await openSse(`${server.url}${path}`, admin);
        try {
          await sse.until((events) => outs(events).includes('run 1\n'), 10_000);
          await openIt();
          await pushIt('run 2\n');
          const events = await sse.until((all) => outs(all).includes('run 2\n'), 10_000);
          const restart = events.findIndex((e) => e.event === 'restart');
          assert.ok(restart >= 0, `no restart event in ${sse.raw()}`);
          assert.equal(events[restart]!.data, '{"from":0}');
          assert.deepEqual(outs(events.slice(restart)), ['run 2\n']);
          assert.equal(events.filter((e) => e.id !== undefined).at(-1)!.id, '0', 'the new run is numbered from 0');
        } finally {
          sse.close();
        }
        const fresh = await openSse(`${server.url}${path}`, admin);
        try {
          assert.deepEqual(outs(await fresh.until((all) => outs(all).length >= 1, 10_000)), ['run 2\n'], 'a new viewer sees only the new run');
        } finally {
          fresh.close();
        }
      });
    }
  });

  describe('GET /info/stream', () => {
    it('lists the open streams of every account, keyed <account>/<key>, for the global token', async () => {
      await open('acct', 'info/a', 'a\n');
      await open('other', 'info/b', 'b\nc\n');
      const res = await fetch(`${server.url}/info/stream`, { headers: admin });
      assert.equal(res.status, 200);
      const { streams } = (await res.json()) as { streams: Record<string, { size: number; subscribers: number; ttl: string }> };
      assert.equal(streams['acct/info/a']?.size, 1);
      assert.equal(streams['other/info/b']?.size, 2);
      assert.equal(typeof streams['other/info/b']?.ttl, 'string');
    });

    it('refuses an account token (403) and no token (401)', async () => {
      assert.equal((await fetch(`${server.url}/info/stream`, { headers: { 'X-Harness-Token': accountToken } })).status, 403);
      assert.equal((await fetch(`${server.url}/info/stream`)).status, 401);
    });
  });
});
