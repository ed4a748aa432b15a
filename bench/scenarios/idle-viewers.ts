// idle_viewers: 10 000 SSE connections over 1 000 open streams (10 accounts,
// so the per-account tail limit is not what is measured), all idle. Figure:
// growth of the server's RSS per connection, from the moment the streams are
// open to the moment every viewer is connected and things have settled.
// Baseline, same run: a bare node:http server (bench/baseline/idle-sse-server.ts)
// holding the same 10 000 idle SSE responses from the same generators, its RSS
// growth per connection measured the same way; `ratio` = service ÷ baseline.
// `rest_anon_mb`: the server's RssAnon (its own memory, not mapped files)
// after start-up and a settle, before any stream is opened.
import { procStatusMb, sleep, startBaseline, startGenerator, startLogService, type ServerChild } from '../lib/processes.ts';
import { round } from './ingest.ts';
import type { BenchOptions } from './options.ts';

const CONNECTIONS = 10_000;
const STREAMS = 1000;
const ACCOUNTS = 10;
const PROCESSES = 4;

/** Holds CONNECTIONS idle viewers on `target`; returns how many got their first event. */
async function holdViewers(target: ServerChild, label: string): Promise<{ ready: number; release(): Promise<void> }> {
  const per = CONNECTIONS / PROCESSES;
  const viewers = Array.from({ length: PROCESSES }, (_, p) =>
    startGenerator<{ ready: number }>(
      'idle-viewers.ts',
      {
        port: target.port,
        count: per,
        offset: p * per,
        streams: STREAMS,
        accounts: ACCOUNTS,
        concurrency: 50,
        timeoutMs: 120_000,
      },
      180_000,
    ),
  );
  try {
    let ready = 0;
    const problems: string[] = [];
    for (const v of viewers) {
      const m = await v.next(120_000);
      ready += Number(m.ready);
      if (Number(m.failed) > 0) problems.push(`${String(m.failed)} failed: ${JSON.stringify(m.errors)}`);
    }
    if (problems.length > 0) process.stderr.write(`\n  ${label}: ${problems.join('; ')}\n`);
    return {
      ready,
      async release() {
        for (const v of viewers) v.send({ type: 'close' });
        await Promise.all(viewers.map((v) => v.result.catch(() => undefined)));
        for (const v of viewers) v.kill();
      },
    };
  } catch (err) {
    for (const v of viewers) v.kill();
    throw err;
  }
}

export async function idleViewers(options: BenchOptions): Promise<Record<string, number>> {
  const settleMs = options.quick ? 2000 : 5000;
  const server = await startLogService({ cpuProfDir: options.profileDir('idle_viewers') });
  let service: { rest: number; before: number; after: number; ready: number };
  try {
    // At rest: started, no stream, no request but the readiness probe.
    await sleep(settleMs);
    const rest = procStatusMb(server.pid, 'RssAnon');
    for (let s = 0; s < STREAMS; s += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, j) => {
          const n = s + j;
          const r = await fetch(`${server.url}/stream?accountID=bench${n % ACCOUNTS}&key=idle/${n}`, { method: 'POST' });
          if (r.status !== 204) throw new Error(`open idle/${n}: HTTP ${r.status}`);
        }),
      );
    }
    await sleep(settleMs);
    const before = procStatusMb(server.pid, 'VmRSS');
    const held = await holdViewers(server, 'idle_viewers');
    await sleep(settleMs);
    const after = procStatusMb(server.pid, 'VmRSS');
    process.stderr.write(`\n  idle_viewers: server RssAnon at rest ${rest.toFixed(1)} MB; RSS ${before.toFixed(1)} → ${after.toFixed(1)} MB\n`);
    await held.release();
    service = { rest, before, after, ready: held.ready };
  } finally {
    await server.stop();
  }
  // Baseline, same run: a bare node:http server holding the same idle SSE responses.
  const baseline = await startBaseline('idle-sse-server.ts');
  let bare: { before: number; after: number; ready: number };
  try {
    await sleep(settleMs);
    const before = procStatusMb(baseline.pid, 'VmRSS');
    const held = await holdViewers(baseline, 'idle_viewers baseline');
    await sleep(settleMs);
    const after = procStatusMb(baseline.pid, 'VmRSS');
    process.stderr.write(`  idle_viewers baseline: RSS ${before.toFixed(1)} → ${after.toFixed(1)} MB\n`);
    await held.release();
    bare = { before, after, ready: held.ready };
  } finally {
    await baseline.stop();
  }
  const kb = ((service.after - service.before) * 1024) / Math.max(1, service.ready);
  const baseKb = ((bare.after - bare.before) * 1024) / Math.max(1, bare.ready);
  return {
    connections: service.ready,
    streams: STREAMS,
    rss_mb: round(service.after, 1),
    kb_per_connection: round(kb, 1),
    baseline_connections: bare.ready,
    baseline_kb_per_connection: round(baseKb, 1),
    ratio: round(kb / baseKb, 2),
    rest_anon_mb: round(service.rest, 1),
  };
}
