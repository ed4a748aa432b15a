// idle_viewers: 10 000 SSE connections over 1 000 open streams (10 accounts,
// so the per-account tail limit is not what is measured), all idle. Figure:
// growth of the server's RSS per connection, from the moment the streams are
// open to the moment every viewer is connected and things have settled.
import { procStatusMb, sleep, startGenerator, startLogService } from '../lib/processes.ts';
import { round } from './ingest.ts';
import type { BenchOptions } from './options.ts';

const CONNECTIONS = 10_000;
const STREAMS = 1000;
const ACCOUNTS = 10;
const PROCESSES = 4;

export async function idleViewers(options: BenchOptions): Promise<Record<string, number>> {
  const settleMs = options.quick ? 2000 : 5000;
  const server = await startLogService({ cpuProfDir: options.profileDir('idle_viewers') });
  const gens: { kill(): void }[] = [];
  try {
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
    const per = CONNECTIONS / PROCESSES;
    const viewers = Array.from({ length: PROCESSES }, (_, p) =>
      startGenerator<{ ready: number }>(
        'idle-viewers.ts',
        {
          port: server.port,
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
    gens.push(...viewers);
    let ready = 0;
    const problems: string[] = [];
    for (const v of viewers) {
      const m = await v.next(120_000);
      ready += Number(m.ready);
      if (Number(m.failed) > 0) problems.push(`${String(m.failed)} failed: ${JSON.stringify(m.errors)}`);
    }
    if (problems.length > 0) process.stderr.write(`\n  idle_viewers: ${problems.join('; ')}\n`);
    await sleep(settleMs);
    const after = procStatusMb(server.pid, 'VmRSS');
    process.stderr.write(`\n  idle_viewers: server RSS ${before.toFixed(1)} → ${after.toFixed(1)} MB\n`);
    for (const v of viewers) v.send({ type: 'close' });
    await Promise.all(viewers.map((v) => v.result.catch(() => undefined)));
    return {
      connections: ready,
      streams: STREAMS,
      rss_mb: round(after, 1),
      kb_per_connection: round(((after - before) * 1024) / Math.max(1, ready), 1),
    };
  } finally {
    for (const g of gens) g.kill();
    await server.stop();
  }
}
