// GET /metrics in the Prometheus text format (docs/PROTOCOL.md §2.1).
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './support/in-process-server.ts';

describe('metrics', function () {
  this.timeout(20000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ LOG_SERVICE_GLOBAL_TOKEN: 'metrics-token' });
  });
  after(async () => server.destroy());
  const auth = { 'X-Harness-Token': 'metrics-token' };

  it('counts pushed lines, uploads and requests, and needs the global token when auth is on', async () => {
    await fetch(`${server.url}/ci/p/b/s/t/stream`, { method: 'POST', headers: auth });
    await fetch(`${server.url}/ci/p/b/s/t/stream`, { method: 'PUT', body: 'a\nb\nc\n', headers: { ...auth, 'Content-Type': 'text/plain' } });
    await fetch(`${server.url}/ci/p/b/s/t/blob`, { method: 'PUT', body: '12345', headers: auth });
    assert.equal((await fetch(`${server.url}/metrics`)).status, 401);
    const res = await fetch(`${server.url}/metrics`, { headers: { Authorization: 'Bearer metrics-token' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /^# TYPE logsvc_lines_pushed_total counter$/m);
    assert.match(text, /^logsvc_lines_pushed_total 3$/m);
    assert.match(text, /^logsvc_push_requests_total 1$/m);
    assert.match(text, /^logsvc_blob_uploaded_bytes_total 5$/m);
    assert.match(text, /^logsvc_http_requests_total\{method="PUT",code="204"\} 2$/m);
    assert.match(text, /^logsvc_http_requests_total\{method="GET",code="401"\} 1$/m);
    assert.match(text, /^process_resident_memory_bytes \d+$/m);
  });
});
