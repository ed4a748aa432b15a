// Two push scenarios measured from outside the server (BENCHMARKS.md, "The
// architecture step and the push path"): the worst /healthz latency during a
// 4 MiB push of newlines, and the anonymous memory of 200 streams bounded at
// 1 MiB after one 8.7 MB push each. Runs the server of any checkout:
//   node --import=tsx bench/push-figures.ts <checkout> <free port>
import { spawn } from 'node:child_process';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const [checkout = '.', port = '18201'] = process.argv.slice(2);
const anon = (pid: number): number => Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
const hwm = (pid: number): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
async function start(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'fig-'));
  const child = spawn(process.execPath, [join(checkout, 'bin/log-service.js'), 'server'], {
    env: {
      ...process.env,
      LOG_SERVICE_RUN_SOURCES: '1',
      LOG_SERVICE_HTTP_BIND: `127.0.0.1:${port}`,
      LOG_SERVICE_LMDB_PATH: join(dir, 'b.lmdb'),
      LOG_SERVICE_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: 'ignore',
  });
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}
const url = `http://127.0.0.1:${port}`;
{
  const child = await start({ LOG_SERVICE_MAX_PUSH_BYTES: '64MiB' });
  await fetch(`${url}/stream?accountID=a&key=nl`, { method: 'POST' });
  const base = anon(child.pid!);
  let done = false;
  let worst = 0;
  const push = fetch(`${url}/stream?accountID=a&key=nl`, {
    method: 'PUT',
    headers: { 'Content-Type': 'text/plain' },
    body: Buffer.alloc(4 * 1024 * 1024, '\n'),
  })
    .then((r) => r.status)
    .catch((e) => String(e))
    .finally(() => {
      done = true;
    });
  let peak = base;
  while (!done) {
    const t = performance.now();
    await (await fetch(`${url}/healthz`)).arrayBuffer();
    worst = Math.max(worst, performance.now() - t);
    peak = Math.max(peak, anon(child.pid!));
    await new Promise((r) => setTimeout(r, 20));
  }
  console.log(
    JSON.stringify({
      scenario: 'newlines_4MiB',
      status: await push,
      healthz_worst_ms: Math.round(worst),
      anon_before_mb: Math.round(base),
      anon_peak_mb: Math.round(peak),
      anon_after_mb: Math.round(anon(child.pid!)),
    }),
  );
  child.kill();
  await new Promise((r) => child.once('exit', r));
}
{
  const child = await start({ LOG_SERVICE_STREAM_MAX_BYTES: '1MiB', LOG_SERVICE_STREAM_MAX_LINES: '100000', LOG_SERVICE_MAX_PUSH_BYTES: '16MiB' });
  const body = Buffer.from(JSON.stringify(Array.from({ length: 80_000 }, (_, i) => ({ out: `${i} ${'y'.repeat(90)}\n` }))));
  const base = anon(child.pid!);
  let peak = base;
  for (let s = 0; s < 200; s++) {
    await fetch(`${url}/stream?accountID=a&key=b/${s}`, { method: 'POST' });
    const r = await fetch(`${url}/stream?accountID=a&key=b/${s}`, { method: 'PUT', body });
    if (r.status !== 204) {
      console.log('push', r.status);
      break;
    }
    peak = Math.max(peak, anon(child.pid!));
  }
  await new Promise((r) => setTimeout(r, 1000));
  console.log(
    JSON.stringify({
      scenario: '200_streams_1MiB_8MB_push',
      body_mb: +(body.length / 1e6).toFixed(1),
      anon_before_mb: Math.round(base),
      anon_peak_mb: Math.round(Math.max(peak, anon(child.pid!))),
      anon_after_mb: Math.round(anon(child.pid!)),
      vmhwm_mb: Math.round(hwm(child.pid!)),
    }),
  );
  child.kill();
  await new Promise((r) => child.once('exit', r));
}
