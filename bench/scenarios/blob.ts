// blob_upload / blob_download: 1 GiB (quick: 256 MiB) through the LMDB store
// with a streaming client; baseline: a bare node:http server that discards the
// upload / streams bytes from memory. Peak RSS = VmHWM of the server process;
// upload and download each run on a fresh server process (the download one
// opens the LMDB file the upload wrote), so each peak is its own. Peak
// anonymous memory (`peak_anon_mb`) = the highest RssAnon sampled every 50 ms
// during the transfer: the process's own memory, without LMDB's mapped pages.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { procStatusMb, sampleMemory, startBaseline, startGenerator, startLogService } from '../lib/processes.ts';
import { round } from './ingest.ts';
import type { BenchOptions } from './options.ts';

interface ClientResult {
  status: number;
  bytes: number;
  seconds: number;
  mb_per_s: number;
}
type Figures = Record<string, number>;

const results: { upload?: Figures; download?: Figures } = {};

/** The durable write rate of the disk under the LMDB directory, measured in this run (see bench/gen/disk-write.ts). */
export let diskWriteMbPerS: number | undefined;
let pending: Promise<void> | undefined;

async function client(port: number, path: string, mode: 'upload' | 'download', bytes: number): Promise<ClientResult> {
  const gen = startGenerator<ClientResult>('blob-client.ts', { port, path, mode, bytes }, 300_000);
  const r = await gen.result;
  const want = mode === 'upload' ? 204 : 200;
  if (r.status !== want || r.bytes !== bytes) throw new Error(`${mode}: HTTP ${r.status}, ${r.bytes} of ${bytes} bytes`);
  return r;
}

async function measureBoth(options: BenchOptions): Promise<void> {
  const bytes = (options.quick ? 256 : 1024) * 2 ** 20;
  const baseline = await startBaseline('blob-server.ts');
  let baseUp: ClientResult;
  let baseDown: ClientResult;
  try {
    baseUp = await client(baseline.port, '/blob', 'upload', bytes);
    baseDown = await client(baseline.port, `/blob?size=${bytes}`, 'download', bytes);
  } finally {
    await baseline.stop();
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'log-service-bench-blob-'));
  const path = '/blob?accountID=bench&key=blob/1';
  try {
    const disk = await startGenerator<{ mb_per_s: number }>('disk-write.ts', { dir: dataDir, bytes }, 300_000).result;
    diskWriteMbPerS = round(disk.mb_per_s, 1);
    const up = await startLogService({ dataDir, cpuProfDir: options.profileDir('blob_upload') });
    let upload: ClientResult;
    let upRss: number;
    let upAnon: number;
    try {
      const memory = sampleMemory(up.pid);
      upload = await client(up.port, path, 'upload', bytes);
      upAnon = memory.stop().peakAnonMb;
      upRss = procStatusMb(up.pid, 'VmHWM');
      process.stderr.write(
        `\n  blob_upload: ${upload.mb_per_s.toFixed(0)} MB/s = ${(upload.mb_per_s / disk.mb_per_s).toFixed(2)} × the disk's durable write rate (${disk.mb_per_s.toFixed(0)} MB/s)\n`,
      );
      process.stderr.write(
        `  blob_upload: server VmHWM ${upRss.toFixed(0)} MB, RssAnon now ${procStatusMb(up.pid, 'RssAnon').toFixed(0)} MB, RssFile now ${procStatusMb(up.pid, 'RssFile').toFixed(0)} MB\n`,
      );
    } finally {
      await up.stop();
    }
    const down = await startLogService({ dataDir, cpuProfDir: options.profileDir('blob_download') });
    let download: ClientResult;
    let downRss: number;
    let downAnon: number;
    try {
      const memory = sampleMemory(down.pid);
      download = await client(down.port, path, 'download', bytes);
      downAnon = memory.stop().peakAnonMb;
      downRss = procStatusMb(down.pid, 'VmHWM');
      process.stderr.write(
        `  blob_download: server VmHWM ${downRss.toFixed(0)} MB, RssAnon now ${procStatusMb(down.pid, 'RssAnon').toFixed(0)} MB, RssFile now ${procStatusMb(down.pid, 'RssFile').toFixed(0)} MB\n`,
      );
    } finally {
      await down.stop();
    }
    results.upload = {
      mb_per_s: round(upload.mb_per_s, 1),
      baseline_mb_per_s: round(baseUp.mb_per_s, 1),
      ratio: round(upload.mb_per_s / baseUp.mb_per_s, 3),
      peak_rss_mb: round(upRss, 1),
      peak_anon_mb: round(upAnon, 1),
    };
    results.download = {
      mb_per_s: round(download.mb_per_s, 1),
      baseline_mb_per_s: round(baseDown.mb_per_s, 1),
      ratio: round(download.mb_per_s / baseDown.mb_per_s, 3),
      peak_rss_mb: round(downRss, 1),
      peak_anon_mb: round(downAnon, 1),
    };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Upload and download are measured together (the download needs the uploaded blob). */
export async function blobUpload(options: BenchOptions): Promise<Figures> {
  pending ??= measureBoth(options);
  await pending;
  return results.upload!;
}

export async function blobDownload(options: BenchOptions): Promise<Figures> {
  pending ??= measureBoth(options);
  await pending;
  return results.download!;
}
