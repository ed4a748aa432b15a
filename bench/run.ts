// `npm run bench` (full) / `npm run bench -- --quick` (every scenario, short).
// Each scenario starts the real server as its own process, drives it from
// separate generator processes and measures its baseline in the same run.
// Options: --only=ingest,fanout  --profile (server CPU profiles under bench/results/profiles/)
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './lib/processes.ts';
import { blobDownload, blobUpload, diskWriteMbPerS } from './scenarios/blob.ts';
import { fanout } from './scenarios/fanout.ts';
import { grpcIngest } from './scenarios/grpc-ingest.ts';
import { idleViewers } from './scenarios/idle-viewers.ts';
import { ingest } from './scenarios/ingest.ts';
import type { BenchOptions } from './scenarios/options.ts';
import { redisIngest } from './scenarios/redis-ingest.ts';
import { tailsrvFanout } from './scenarios/tailsrv-fanout.ts';
import { scribeLog } from './scenarios/scribe-log.ts';
import { rawFanout } from './scenarios/raw-fanout.ts';
import { lateJoiners } from './scenarios/late-joiners.ts';
import { rateFanout } from './scenarios/rate-fanout.ts';
import { livelogFanout } from './scenarios/livelog-fanout.ts';
import { viewerLarge, viewerLive } from './scenarios/viewer.ts';

type Figures = Record<string, number | string | null>;

interface Scenario {
  key: string;
  run(options: BenchOptions): Promise<Figures>;
  /** The target, as text, and whether the figures meet it. */
  target: string;
  met(f: Figures): boolean;
}

const num = (f: Figures, k: string) => (typeof f[k] === 'number' ? f[k] : NaN);

const SCENARIOS: Scenario[] = [
  { key: 'ingest', run: ingest, target: '≥ 0.5 × baseline (ratio)', met: (f) => num(f, 'ratio') >= 0.5 },
  {
    key: 'fanout',
    run: fanout,
    target: 'p99 < 50 ms (after the warm-up), lost = 0 at 50 000 lines/s',
    met: (f) => num(f, 'p99_ms') < 50 && num(f, 'lost') === 0 && num(f, 'publish_lines_per_s') >= 49_000,
  },
  { key: 'blob_upload', run: blobUpload, target: '≥ 0.5 × baseline, peak RSS < 300 MB', met: (f) => num(f, 'ratio') >= 0.5 && num(f, 'peak_rss_mb') < 300 },
  { key: 'blob_download', run: blobDownload, target: '≥ 0.5 × baseline, peak RSS < 300 MB', met: (f) => num(f, 'ratio') >= 0.5 && num(f, 'peak_rss_mb') < 300 },
  {
    key: 'idle_viewers',
    run: idleViewers,
    target: '< 50 KB per connection, ≤ 1.2 × bare node:http (ratio), RssAnon at rest ≤ 30 MB',
    met: (f) => num(f, 'kb_per_connection') < 50 && num(f, 'ratio') <= 1.2 && num(f, 'rest_anon_mb') <= 30,
  },
  { key: 'redis_ingest', run: redisIngest, target: '≥ 0.5 × baseline', met: (f) => num(f, 'ratio') >= 0.5 },
  {
    key: 'tailsrv_fanout',
    run: tailsrvFanout,
    target: 'incomplete = 0, ≥ 0.5 × baseline MB/s; paced 50 MB/s: p99 < 50 ms, incomplete = 0',
    met: (f) => num(f, 'clients_incomplete') === 0 && num(f, 'ratio') >= 0.5 && num(f, 'paced_p99_ms') < 50 && num(f, 'paced_incomplete') === 0,
  },
  { key: 'grpc_ingest', run: grpcIngest, target: '≥ the HTTP ingest figure of the same run', met: (f) => num(f, 'ratio') >= 1 },
  { key: 'scribe_log', run: scribeLog, target: '≥ 0.5 × a bare grpc-js unary server', met: (f) => num(f, 'ratio') >= 0.5 },
  {
    key: 'raw_fanout',
    run: rawFanout,
    target: 'ratio ≤ 1.5 (last byte vs bare node:http), 100 readers complete',
    met: (f) => num(f, 'ratio') <= 1.5 && num(f, 'readers_complete') === 100,
  },
  {
    key: 'late_joiners',
    run: lateJoiners,
    target: 'live and closed ≤ 1.5 × a bare server of the file, all 100 complete',
    met: (f) => num(f, 'live_ratio') <= 1.5 && num(f, 'closed_ratio') <= 1.5 && num(f, 'live_complete') === 100 && num(f, 'closed_complete') === 100,
  },
  {
    key: 'rate_fanout',
    run: rateFanout,
    target: '50 000 lines/s: 100 raw + 100 SSE readers complete (no dropped), p99 < 250 ms',
    met: (f) =>
      num(f, 'raw_complete') === 100 &&
      num(f, 'sse_complete') === 100 &&
      num(f, 'raw_p99_ms') < 250 &&
      num(f, 'sse_p99_ms') < 250 &&
      num(f, 'publish_lines_per_s') >= 49_000,
  },
  {
    key: 'livelog_fanout',
    run: livelogFanout,
    target: 'readers incomplete = 0, last byte ≤ 1.5 × a bare node:http PUT-to-100-responses pipe',
    met: (f) => num(f, 'readers_incomplete') === 0 && num(f, 'ratio') <= 1.5,
  },
  {
    key: 'viewer_large',
    run: viewerLarge,
    target: 'first row < 1 s after navigation, no task > 200 ms while scrolling, JS heap < 300 MB (1,000,000 lines)',
    met: (f) => num(f, 'first_row_ms') < 1000 && num(f, 'longest_task_scrolling_ms') <= 200 && num(f, 'js_heap_mb') < 300,
  },
  {
    key: 'viewer_live',
    run: viewerLive,
    target: '5,000 lines/s followed: every line shown, p99 < 250 ms after its push',
    met: (f) => num(f, 'p99_ms') < 250 && num(f, 'unseen') === 0 && num(f, 'lines_per_s') >= 4_500,
  },
];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const profiling = args.includes('--profile');
const unknown = args.filter((a) => a !== '--quick' && a !== '--profile' && !a.startsWith('--only='));
if (unknown.length > 0) {
  console.error(`unknown option(s) ${unknown.join(' ')}; use --quick, --only=<scenario,…>, --profile`);
  process.exit(2);
}
const resultsDir = join(REPO_ROOT, 'bench/results');
const options: BenchOptions = {
  quick,
  profileDir: (scenario) => {
    if (!profiling) return undefined;
    const dir = join(resultsDir, 'profiles', scenario);
    mkdirSync(dir, { recursive: true });
    return dir;
  },
};

const started = Date.now();
const results: Record<string, Figures> = {};
const verdicts: { key: string; target: string; status: string; figures: Figures }[] = [];
for (const scenario of SCENARIOS) {
  if (only !== undefined && !only.includes(scenario.key)) continue;
  const t0 = Date.now();
  process.stderr.write(`▶ ${scenario.key}${quick ? ' (quick)' : ''} … `);
  let figures: Figures;
  let status: string;
  try {
    figures = await scenario.run(options);
    status = typeof figures.skipped === 'string' ? 'skipped' : scenario.met(figures) ? 'met' : 'MISSED';
  } catch (err) {
    figures = { error: (err as Error).message.split('\n').slice(0, 6).join(' | ') };
    status = 'FAILED';
  }
  process.stderr.write(`${status} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  results[scenario.key] = figures;
  verdicts.push({ key: scenario.key, target: scenario.target, status, figures });
}

const machine = {
  cores: cpus().length,
  cpu_model: cpus()[0]?.model ?? 'unknown',
  memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  /** Durable (fsync'd) write rate of the disk under the data directory, when the blob scenarios ran. */
  disk_write_mb_per_s: diskWriteMbPerS ?? null,
};
const report = { date: new Date().toISOString(), mode: quick ? 'quick' : 'full', machine, ...results };
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);

const fmt = (v: number | string | null | undefined) =>
  typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en-US') : String(v)) : String(v ?? '');
console.log(`\nlog-service benchmarks — ${report.mode} run, ${report.date}`);
console.log(
  `machine: ${machine.cores} cores (${machine.cpu_model}), ${machine.memory_gb} GiB, Node ${machine.node}` +
    `${machine.disk_write_mb_per_s !== null ? `, disk durable write ${machine.disk_write_mb_per_s} MB/s` : ''}\n`,
);
const rows = verdicts.map((v) => [
  v.key,
  Object.entries(v.figures)
    .map(([k, x]) => `${k}=${fmt(x)}`)
    .join('  '),
  v.target,
  v.status,
]);
const widths = [0, 1, 2, 3].map((i) => Math.max(...[['scenario', 'figures', 'target', 'status'], ...rows].map((r) => r[i]!.length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(line(['scenario', 'figures', 'target', 'status']));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
console.log(`\nwrote bench/results/latest.json (${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
