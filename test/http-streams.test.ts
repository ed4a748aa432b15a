// Live streams over HTTP, both route families, with the SSE bytes on the wire (docs/PROTOCOL.md §9, §6).
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { openRaw } from './support/raw-reader.ts';
import { lineEvents, openSse, outs } from './support/sse-reader.ts';

let server: TestServer;
let n = 0;
const key = () => `build-${Date.now()}-${n++}/stage/step`;
const h = (k: string, extra = '') => `${server.url}/stream?accountID=acct&key=${encodeURIComponent(k)}${extra}`;

async function call(method: string, url: string, body?: string, type = 'application/json', headers: Record<string, string> = {}) {
  const res = await fetch(url, { method, body, headers: body !== undefined ? { 'Content-Type': type, ...headers } : headers });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown>, headers: res.headers };
}

function rawRequest(method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // Options, not a URL string: WHATWG URL parsing would resolve %2e%2e segments.
    const req = http.request({ host: '127.0.0.1', port: server.port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const push = (k: string, lines: unknown[]) => call('PUT', h(k), JSON.stringify(lines));
const texts = (count: number, from = 0) => Array.from({ length: count }, (_, i) => ({ out: `line ${from + i}\n` }));

describe('streams over HTTP', function () {
  this.timeout(30000);
  before(async () => {
    server = await startTestServer({
      LOG_SERVICE_PING_INTERVAL_SECONDS: '0.2',
      LOG_SERVICE_STREAM_MAX_LINES: '500',
      // A push keeps what the ring keeps, so a push of more leaves a gap the archive never saw (the dropped tests).
      LOG_SERVICE_MAX_PUSH_LINES: '500',
      LOG_SERVICE_STREAM_CLOSED_GRACE_SECONDS: '1',
    });
  });
  after(async () => server.destroy());

  describe('Harness routes', () => {
    it('opens (204, again: 204, still empty), pushes (204) and tails a stream with ids, data and the Harness terminal event', async () => {
      const k = key();
      assert.equal((await call('POST', h(k))).status, 204);
      assert.equal((await call('POST', h(k))).status, 204);
      assert.equal((await push(k, [{ out: 'hello\n' }, { out: 'world\n', level: 'warn' }])).status, 204);
      const sse = await openSse(h(k));
      assert.equal(sse.status, 200);
      assert.equal(sse.headers['content-type'], 'text/event-stream; charset=utf-8');
      assert.equal(sse.headers['cache-control'], 'no-cache');
      assert.equal(sse.headers['x-accel-buffering'], 'no');
      await sse.until((evs) => lineEvents(evs).length === 2);
      assert.equal((await call('DELETE', h(k))).status, 204);
      await sse.ended();
      const raw = sse.raw();
      assert.ok(raw.startsWith('retry: 3000\n: ping\n\n'), raw.slice(0, 40));
      assert.match(raw, /id: 0\ndata: \{"level":"info","pos":0,"out":"hello\\n","time":"[^"]+"\}\n\n/);
      assert.match(raw, /id: 1\ndata: \{"level":"warn","pos":1,"out":"world\\n","time":"[^"]+"\}\n\n/);
      assert.ok(raw.endsWith('event: error\ndata: eof\n\n'), raw.slice(-40));
    });

    it("stores a push it scans (the runners' shape) as the same push parsed (an extra key): same events, same text offsets, a retried X-Push-Id once", async () => {
      const lines = Array.from({ length: 20 }, (_, i) => ({
        level: i % 2 === 0 ? 'info' : 'warn',
        pos: i,
        out: `step ${i} \u001b[32m"ok"\u001b[0m \\ caf\u00e9\n`,
        time: `2024-03-01T10:20:${String(i).padStart(2, '0')}.5Z`,
        args: null,
      }));
      // Two pushes: where the second one's text starts is what the first one's scan measured.
      const halves = [lines.slice(0, 8), lines.slice(8)];
      const secondFrom = Buffer.byteLength(halves[0]!.map((line) => line.out).join(''), 'utf8');
      const events: string[][] = [];
      for (const extra of [{}, { x: 1 }]) {
        const k = key();
        assert.equal((await call('POST', h(k))).status, 204);
        for (const [i, half] of halves.entries()) {
          // As Harness's Go client (json.Encoder) sends it: é escaped (\u00e9, so the body is ASCII), a newline after the array.
          const body = `${JSON.stringify(half.map((line) => ({ ...line, ...extra }))).replace(/é/g, '\\u00e9')}\n`;
          for (let attempt = 0; attempt < 2; attempt++) {
            assert.equal((await call('PUT', h(k), body, 'application/json', { 'X-Push-Id': `p${i}` })).status, 204);
          }
        }
        const sse = await openSse(h(k));
        const raw = await openRaw(`${server.url}/stream/raw?accountID=acct&key=${encodeURIComponent(k)}&offset=${secondFrom}`);
        assert.equal(raw.offset, String(secondFrom));
        await sse.until((evs) => lineEvents(evs).length === lines.length);
        assert.equal((await call('DELETE', h(k))).status, 204);
        await sse.ended();
        await raw.ended();
        assert.equal(raw.text(), halves[1]!.map((line) => line.out).join(''), 'the text of the second push, from the offset the first one ends at');
        events.push(lineEvents(sse.events()).map((e) => `${e.id} ${e.data}`));
      }
      assert.equal(events[0]!.length, lines.length, 'each retried push was stored once');
      assert.deepEqual(events[0], events[1]);
      assert.deepEqual(
        events[0]!.map((e) => (JSON.parse(e.slice(e.indexOf(' ') + 1)) as { out: string }).out),
        lines.map((line) => line.out),
      );
    });

    it('answers 404 LOGSVC_STREAM_NOT_FOUND to a push on a stream that is not open', async () => {
      const r = await push(key(), [{ out: 'x\n' }]);
      assert.equal(r.status, 404);
      assert.equal(r.json().error_code, 'LOGSVC_STREAM_NOT_FOUND');
      assert.match(String(r.json().error_msg), /open it first/);
    });

    it('answers a tail of an unknown key with 200 and an immediate terminal event (Harness compatibility)', async () => {
      const sse = await openSse(h(key()));
      assert.equal(sse.status, 200);
      await sse.ended();
      assert.ok(sse.raw().endsWith('event: error\ndata: eof\n\n'));
    });

    it('lists the streams of one account only, with size, subscribers and ttl', async () => {
      const k = key();
      await call('POST', h(k));
      await call('POST', `${server.url}/stream?accountID=other&key=${encodeURIComponent(k)}`);
      await push(k, texts(3));
      const viewer = await openSse(h(k));
      await viewer.until((evs) => lineEvents(evs).length === 3);
      const info = (await call('GET', `${server.url}/stream/info?accountID=acct`)).json() as {
        streams: Record<string, { size: number; subscribers: number; ttl: string }>;
      };
      assert.equal(info.streams[k]?.size, 3);
      assert.equal(info.streams[k]?.subscribers, 1);
      assert.match(info.streams[k]!.ttl, /^\d+h\d+m\d+s$/);
      const other = (await call('GET', `${server.url}/stream/info?accountID=other`)).json() as { streams: Record<string, unknown> };
      assert.deepEqual(Object.keys(other.streams), [k]);
      viewer.close();
    });

    it('closes every stream under a prefix, and every key of a keyList', async () => {
      const base = `prefix-${Date.now()}`;
      for (const s of ['a', 'b', 'c']) await call('POST', h(`${base}/${s}`));
      await call('POST', h(`${base}x/keep`));
      assert.equal((await call('DELETE', h(`${base}/`, '&prefix=true'))).status, 204);
      const info = (await call('GET', `${server.url}/stream/info?accountID=acct`)).json() as { streams: Record<string, unknown> };
      assert.deepEqual(
        Object.keys(info.streams).filter((s) => s.startsWith(base)),
        [`${base}x/keep`],
      );
      await call('POST', h(`${base}/d`));
      await call('POST', h(`${base}/e`));
      const list = `&keyList=${encodeURIComponent(`${base}/d,${base}/e,${base}/never-opened`)}`;
      assert.equal((await call('DELETE', `${server.url}/stream?accountID=acct${list}`)).status, 204);
      assert.equal((await push(`${base}/d`, [{ out: 'x' }])).status, 404);
      assert.equal((await push(`${base}/e`, [{ out: 'x' }])).status, 404);
    });

    it('answers 404 to closing a stream that is not open', async () => {
      const r = await call('DELETE', h(key()));
      assert.equal(r.status, 404);
      assert.equal(r.json().error_code, 'LOGSVC_STREAM_NOT_FOUND');
    });
  });

  describe('CI routes', () => {
    const ci = (k: string) => `${server.url}/ci/${k}/stream`;
    const ciKey = () => `proj/${Date.now()}-${n++}/stage/step`;

    it('opens, pushes, tails and closes on the path-keyed routes, ending with event: eof', async () => {
      const k = ciKey();
      assert.equal((await call('POST', ci(k))).status, 204);
      assert.equal((await call('PUT', ci(k), 'one\ntwo\n', 'text/plain')).status, 204);
      const sse = await openSse(ci(k));
      await sse.until((evs) => lineEvents(evs).length === 2);
      assert.equal((await call('DELETE', ci(k))).status, 204);
      await sse.ended();
      assert.deepEqual(outs(sse.events()), ['one\n', 'two\n']);
      assert.ok(sse.raw().endsWith('event: eof\ndata: eof\n\n'));
    });

    it('answers 404 to a tail of a key with neither stream nor blob', async () => {
      const r = await call('GET', ci(ciKey()));
      assert.equal(r.status, 404);
      assert.equal(r.json().error_code, 'LOGSVC_STREAM_NOT_FOUND');
    });

    it('lists the open CI streams with GET /ci/streams', async () => {
      const k = ciKey();
      await call('POST', ci(k));
      const info = (await call('GET', `${server.url}/ci/streams`)).json() as { streams: Record<string, unknown> };
      assert.ok(k in info.streams);
    });

    it('rejects CI ids outside [A-Za-z0-9._:-] and dot segments with 400 LOGSVC_INVALID_ID', async () => {
      // A raw request: fetch would resolve %2e%2e before sending.
      for (const bad of ['p/%2e%2e/s/t', 'p/b%20x/s/t', `p/${'x'.repeat(129)}/s/t`, 'p/b/s/%00', 'p/b/s/%E0%A4%A']) {
        const { status, body } = await rawRequest('POST', `/ci/${bad}/stream`);
        assert.equal(status, 400, bad);
        assert.equal((JSON.parse(body) as { error_code: string }).error_code, 'LOGSVC_INVALID_ID', bad);
      }
    });
  });

  describe('push bodies', () => {
    it('accepts a JSON array, NDJSON and plain text, in order', async () => {
      const k = key();
      await call('POST', h(k));
      await call('PUT', h(k), JSON.stringify([{ out: 'json\n' }]));
      await call('PUT', h(k), '{"out":"nd1\\n"}\n\n{"out":"nd2\\n","level":"debug"}\n', 'application/x-ndjson');
      await call('PUT', h(k), 'text1\ntext2 no newline', 'text/plain; charset=utf-8');
      await call('DELETE', h(k));
      const sse = await openSse(h(k));
      await sse.ended();
      assert.deepEqual(outs(sse.events()), ['json\n', 'nd1\n', 'nd2\n', 'text1\n', 'text2 no newline']);
    });

    it('rejects malformed JSON, bad lines and unknown media types with a code, and appends nothing', async () => {
      const k = key();
      await call('POST', h(k));
      const cases: [string, string, number, string][] = [
        ['[{"out": "x"', 'application/json', 400, 'LOGSVC_INVALID_JSON'],
        ['[{"out": 5}]', 'application/json', 400, 'LOGSVC_INVALID_LINE'],
        ['[{"out": "ok\\n"}, {"nope": 1}]', 'application/json', 400, 'LOGSVC_INVALID_LINE'],
        ['[{"out": "x", "pos": -1}]', 'application/json', 400, 'LOGSVC_INVALID_LINE'],
        ['[{"out": "x", "time": "yesterday"}]', 'application/json', 400, 'LOGSVC_INVALID_LINE'],
        [`[{"out": "x", "args": {"a": ${'['.repeat(100000)}${']'.repeat(100000)}}}]`, 'application/json', 400, 'LOGSVC_INVALID_LINE'],
        [`[{"out": "x", "args": {"a": "${'y'.repeat(20000)}"}}]`, 'application/json', 400, 'LOGSVC_INVALID_LINE'],
        ['{"out":"a"}\nnot json\n', 'application/x-ndjson', 400, 'LOGSVC_INVALID_JSON'],
        ['<xml/>', 'application/xml', 415, 'LOGSVC_UNSUPPORTED_MEDIA_TYPE'],
      ];
      for (const [body, type, status, code] of cases) {
        const r = await call('PUT', h(k), body, type);
        const label = body.length > 80 ? `${body.slice(0, 80)}… (${body.length} chars)` : body;
        assert.equal(r.status, status, label);
        assert.equal(r.json().error_code, code, label);
        assert.ok(String(r.json().error_msg).length > 5);
      }
      const info = (await call('GET', `${server.url}/stream/info?accountID=acct`)).json() as { streams: Record<string, { size: number }> };
      assert.equal(info.streams[k]?.size, 0, 'nothing was appended');
      assert.equal((await push(k, [{ out: 'still works\n' }])).status, 204);
    });

    it('truncates a line over 64 KiB with a visible marker and keeps its newline', async () => {
      const k = key();
      await call('POST', h(k));
      await push(k, [{ out: `${'x'.repeat(100 * 1024)}\n` }]);
      await call('DELETE', h(k));
      const sse = await openSse(h(k));
      await sse.ended();
      const [out] = outs(sse.events());
      const bytes = Buffer.byteLength(out!, 'utf8');
      assert.ok(bytes <= 64 * 1024 && bytes > 63 * 1024, `${bytes} bytes: at most the limit, marker and newline included`);
      assert.match(out!, /truncated\]\n$/);
    });

    it('refuses a push body over the 64 MiB limit with 413 LOGSVC_BODY_TOO_LARGE, appending nothing', async () => {
      const k = key();
      await call('POST', h(k));
      const r = await call('PUT', h(k), 'y'.repeat(64 * 1024 * 1024 + 10), 'text/plain');
      assert.equal(r.status, 413);
      assert.equal(r.json().error_code, 'LOGSVC_BODY_TOO_LARGE');
      assert.equal((await push(k, [{ out: 'after\n' }])).status, 204);
      const info = (await call('GET', `${server.url}/stream/info?accountID=acct`)).json() as { streams: Record<string, { size: number }> };
      assert.equal(info.streams[k]?.size, 1, 'only the push after the refused one');
    });
  });

  describe('tailing', () => {
    it('gives a late joiner the history first, then live lines', async () => {
      const k = key();
      await call('POST', h(k));
      await push(k, texts(5));
      const sse = await openSse(h(k));
      await sse.until((evs) => lineEvents(evs).length === 5);
      await push(k, texts(3, 5));
      await sse.until((evs) => lineEvents(evs).length === 8);
      assert.deepEqual(
        lineEvents(sse.events()).map((e) => e.id),
        ['0', '1', '2', '3', '4', '5', '6', '7'],
      );
      sse.close();
    });

    it('resumes after Last-Event-ID and after ?from= with no duplicate and no gap', async () => {
      const k = key();
      await call('POST', h(k));
      await push(k, texts(10));
      const byHeader = await openSse(h(k), { 'Last-Event-ID': '6' });
      const byQuery = await openSse(h(k, '&from=3'));
      await push(k, texts(2, 10));
      await call('DELETE', h(k));
      await byHeader.ended();
      await byQuery.ended();
      assert.deepEqual(
        lineEvents(byHeader.events()).map((e) => e.id),
        ['7', '8', '9', '10', '11'],
      );
      assert.deepEqual(
        lineEvents(byQuery.events()).map((e) => e.id),
        ['4', '5', '6', '7', '8', '9', '10', '11'],
      );
    });

    it('starts at the last N lines with ?tail=N', async () => {
      const k = key();
      await call('POST', h(k));
      await push(k, texts(10));
      await call('DELETE', h(k));
      const sse = await openSse(h(k, '&tail=3'));
      await sse.ended();
      assert.deepEqual(outs(sse.events()), ['line 7\n', 'line 8\n', 'line 9\n']);
    });

    it('rejects a non-numeric Last-Event-ID, from or tail with 400 LOGSVC_INVALID_PARAM', async () => {
      const k = key();
      await call('POST', h(k));
      for (const [url, headers] of [
        [h(k, '&from=abc'), {}],
        [h(k, '&tail=-1'), {}],
        [h(k), { 'Last-Event-ID': 'x1' }],
      ] as const) {
        const r = await call('GET', url, undefined, undefined, headers);
        assert.equal(r.status, 400);
        assert.equal(r.json().error_code, 'LOGSVC_INVALID_PARAM');
      }
    });

    it('tells a viewer which lines it missed with event: dropped, then continues', async () => {
      const k = key();
      await call('POST', h(k));
      // Lines the ring trimmed are read from the archive (docs/ARCHIVE.md); the older lines of a push
      // larger than the ring never reached either: those are missed. The ring keeps 500.
      await push(k, texts(250, 0));
      await push(k, texts(750, 250)); // 250..499 are never held
      await call('DELETE', h(k));
      const sse = await openSse(h(k, '&from=10'));
      await sse.ended();
      const evs = sse.events();
      const dropped = evs.find((e) => e.event === 'dropped');
      assert.ok(dropped, 'a dropped event was sent');
      const range = JSON.parse(dropped.data!) as { from: number; to: number };
      assert.deepEqual(range, { from: 250, to: 499 });
      const ids = lineEvents(evs).map((e) => Number(e.id));
      assert.equal(ids[0], 11, 'the trimmed lines come from the archive');
      assert.equal(ids[ids.indexOf(249) + 1], range.to + 1, 'lines continue right after the dropped range');
      assert.equal(ids[ids.length - 1], 999);
      assert.ok(
        ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1 || (ids[i - 1] === 249 && id === 500)),
        'no gap but the dropped range',
      );
    });

    it('sends : ping comments while idle', async () => {
      const k = key();
      await call('POST', h(k));
      const sse = await openSse(h(k));
      await sse.until(() => (sse.raw().match(/: ping\n\n/g) ?? []).length >= 3, 5000);
      sse.close();
    });

    it('serves 100 concurrent viewers every line in order', async () => {
      const k = key();
      await call('POST', h(k));
      const viewers = await Promise.all(Array.from({ length: 100 }, () => openSse(h(k))));
      for (let i = 0; i < 4; i++) await push(k, texts(100, i * 100));
      await call('DELETE', h(k));
      await Promise.all(viewers.map((v) => v.ended(20000)));
      for (const v of viewers) {
        const ids = lineEvents(v.events()).map((e) => Number(e.id));
        assert.deepEqual(
          ids,
          Array.from({ length: 400 }, (_, i) => i),
        );
        assert.ok(v.raw().endsWith('event: error\ndata: eof\n\n'));
      }
    });
  });

  describe('snapshots', () => {
    it('keeps the live ids of a trimmed stream in its snapshot, and reports the trimmed lines as dropped', async () => {
      const k = key();
      await call('POST', h(k));
      // The ring keeps 500: one push of 750 holds seqs 250..749 only (lines the ring trimmed later would be archived).
      await push(k, texts(750, 0));
      await call('DELETE', h(k, '&snapshot=true'));
      const deadline = Date.now() + 5000;
      while ((await server.services.context.stream.cursor(`acct/${k}`, { kind: 'beginning' })) !== null) {
        assert.ok(Date.now() < deadline);
        await new Promise((r) => setTimeout(r, 100));
      }
      const resumed = await openSse(h(k), { 'Last-Event-ID': '700' });
      await resumed.ended();
      assert.deepEqual(
        lineEvents(resumed.events()).map((e) => Number(e.id)),
        Array.from({ length: 49 }, (_, i) => 701 + i),
      );
      const whole = await openSse(h(k));
      await whole.ended();
      const evs = whole.events();
      assert.deepEqual(JSON.parse(evs.find((e) => e.event === 'dropped')!.data!), { from: 0, to: 249 });
      assert.equal(lineEvents(evs)[0]!.id, '250');
      assert.equal(outs(evs)[0], 'line 250\n');
      const last = await openSse(h(k, '&tail=2'));
      await last.ended();
      assert.deepEqual(
        lineEvents(last.events()).map((e) => e.id),
        ['748', '749'],
      );
    });

    it('takes a snapshot on a second DELETE while the just-closed stream is still in its grace period', async () => {
      const k = key();
      await call('POST', h(k));
      await push(k, texts(2));
      assert.equal((await call('DELETE', h(k))).status, 204);
      assert.equal((await call('DELETE', h(k, '&snapshot=true'))).status, 204, 'retrying the snapshot works');
      const blob = await call('GET', `${server.url}/blob?accountID=acct&key=${encodeURIComponent(k)}`);
      assert.equal(blob.text.trimEnd().split('\n').length, 2);
    });

    it('writes the stream as NDJSON on close with snapshot=true, and serves the finished log from the blob on the same endpoint', async () => {
      const k = key();
      await call('POST', h(k));
      await push(k, texts(3));
      assert.equal((await call('DELETE', h(k, '&snapshot=true'))).status, 204);
      const blob = await call('GET', `${server.url}/blob?accountID=acct&key=${encodeURIComponent(k)}`);
      assert.equal(blob.status, 200);
      const rows = blob.text
        .trimEnd()
        .split('\n')
        .map((r) => JSON.parse(r) as { out: string; pos: number });
      assert.deepEqual(
        rows.map((r) => r.out),
        ['line 0\n', 'line 1\n', 'line 2\n'],
      );
      // After the closed stream's grace period (1 s here) the tail comes from the blob.
      const deadline = Date.now() + 5000;
      while ((await server.services.context.stream.cursor(`acct/${k}`, { kind: 'beginning' })) !== null) {
        assert.ok(Date.now() < deadline, 'the closed stream outlived its 1 s grace period');
        await new Promise((r) => setTimeout(r, 100));
      }
      const fromBlob = await openSse(h(k, '&from=0'));
      await fromBlob.ended();
      assert.deepEqual(
        lineEvents(fromBlob.events()).map((e) => [e.id, (JSON.parse(e.data!) as { out: string }).out]),
        [
          ['1', 'line 1\n'],
          ['2', 'line 2\n'],
        ],
      );
      assert.ok(fromBlob.raw().endsWith('event: error\ndata: eof\n\n'));
    });
  });
});
