// The web viewer's figures (issue 15, docs/VIEWER.md §9), in Debian's
// Chromium driven by playwright-core against the real server process.
//
// viewer_large: a finished log of 1,000,000 lines (quick: 200,000), ~100
// bytes each with some ANSI colour, uploaded as its NDJSON blob. Figures: the
// time from navigation to the first log row on screen (a MutationObserver in
// the page, on the page's own clock), the time until every line is loaded,
// the longest main-thread task while scrolling to the end and back (the
// Long Tasks API), and the JS heap after load (CDP, after a GC). Baseline,
// same run: Chromium showing the same log's text itself (a bare node:http
// server sends the file as text/plain): its first contentful paint.
//
// viewer_live: a stream pushed at 5,000 lines/s (50 lines every 10 ms) for
// 10 s (quick: 4 s) with the page following it; each line's push
// time (kept by the pusher, by seq). Figure: every line's latency, from its
// push to the first frame whose line count covers it (the page renders the
// count and the rows together); p50/p99, and lines never shown. Baseline,
// same run: an EventSource on the same stream in the same browser, each
// line's message arrival (no rendering).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../test/support/browser.ts';
import { sleep, startBaseline, startLogService } from '../lib/processes.ts';
import { round } from './ingest.ts';
import type { BenchOptions } from './options.ts';

// Functions passed to page.evaluate run in the page: these are the browser globals they use.
declare const window: { __firstRowMs?: number; __longTasks: number[]; __seen: [number, number][] };
declare const document: { querySelector(selector: string): { textContent: string | null } | null };

/** Line `i` of the large log: ~100 bytes, a colour on every tenth. */
function largeLine(i: number): string {
  const n = String(i).padStart(7, '0');
  return i % 10 === 0 ? `${n} \x1b[32mok\x1b[0m step ${'x'.repeat(76)}` : `${n} step output ${'y'.repeat(79)}`;
}

/** Installed before the page loads: when the first log row appears, and every long task. */
const PAGE_PROBES = `
  window.__longTasks = [];
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); }).observe({ type: 'longtask', buffered: true });
  new MutationObserver((_, observer) => {
    if (document.querySelector('.row') !== null) { window.__firstRowMs = performance.now(); observer.disconnect(); }
  }).observe(document, { childList: true, subtree: true });
`;

async function heapMb(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  return usedSize / 2 ** 20;
}

async function uploadLargeLog(url: string, key: string, lines: number): Promise<Buffer> {
  const rows: string[] = [];
  const texts: string[] = [];
  const time = '2026-12-05T10:00:00.000Z';
  for (let i = 0; i < lines; i++) {
    const out = `${largeLine(i)}\n`;
    texts.push(out);
    rows.push(`${JSON.stringify({ level: 'info', pos: i, out, time })}\n`);
  }
  const res = await fetch(`${url}/ci/${key}/blob`, { method: 'PUT', body: rows.join(''), headers: { 'Content-Type': 'application/x-ndjson' } });
  if (res.status !== 204) throw new Error(`upload: HTTP ${res.status} ${await res.text()}`);
  return Buffer.from(texts.join(''));
}

export async function viewerLarge(options: BenchOptions): Promise<Record<string, number | string>> {
  const lines = options.quick ? 200_000 : 1_000_000;
  const dir = await mkdtemp(join(tmpdir(), 'log-service-bench-viewer-'));
  const server = await startLogService({ cpuProfDir: options.profileDir('viewer_large') });
  let browser: Browser | undefined;
  try {
    const key = 'bench/1/build/large';
    const text = await uploadLargeLog(server.url, key, lines);
    await writeFile(join(dir, 'log.txt'), text);
    browser = await launchChromium();

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.addInitScript(PAGE_PROBES);
    const started = performance.now();
    await page.goto(`${server.url}/ui/ci/${key}`);
    await page.waitForFunction(() => window.__firstRowMs !== undefined, undefined, { timeout: 30_000 });
    const firstRowMs = await page.evaluate(() => window.__firstRowMs!);
    await page.getByTestId('state').filter({ hasText: 'finished' }).waitFor({ timeout: 300_000 });
    await page.waitForFunction((n) => Number((document.querySelector('[data-testid=line-count]')?.textContent ?? '').replace(/[^0-9]/g, '')) >= n, lines, {
      timeout: 60_000,
    });
    const loadS = (performance.now() - started) / 1000;
    const loadLongest = await page.evaluate(() => Math.max(0, ...window.__longTasks));
    const heap = await heapMb(page);

    // Scroll: to the end, back to the top, then through the log by wheel.
    await page.evaluate(() => (window.__longTasks.length = 0));
    await page.locator('[data-testid=log]').click({ position: { x: 400, y: 200 } });
    await page.keyboard.press('G');
    await page.locator(`.row[data-line="${lines}"]`).waitFor({ timeout: 10_000 });
    await page.keyboard.press('g');
    await page.locator('.row[data-line="1"]').waitFor({ timeout: 10_000 });
    for (let i = 0; i < 40; i++) {
      await page.mouse.wheel(0, 4000);
      await sleep(16);
    }
    await page.keyboard.press('G');
    await page.locator(`.row[data-line="${lines}"]`).waitFor({ timeout: 10_000 });
    await sleep(300);
    const scrollLongest = await page.evaluate(() => Math.max(0, ...window.__longTasks));
    await page.close();

    // Baseline: Chromium's own text view of the same log.
    const baseline = await startBaseline('file-http-server.ts', [join(dir, 'log.txt')]);
    let baseFcp: number;
    try {
      const plain = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await plain.goto(`${baseline.url}/log.txt`, { waitUntil: 'commit' });
      await plain.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0, undefined, { timeout: 60_000 });
      baseFcp = await plain.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]!.startTime);
      await plain.close();
    } finally {
      await baseline.stop();
    }
    return {
      lines,
      log_mb: round(text.length / 2 ** 20, 1),
      first_row_ms: round(firstRowMs, 0),
      baseline_first_paint_ms: round(baseFcp, 0),
      load_all_s: round(loadS, 2),
      longest_task_loading_ms: round(loadLongest, 0),
      longest_task_scrolling_ms: round(scrollLongest, 0),
      js_heap_mb: round(heap, 1),
    };
  } finally {
    await browser?.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Pushes 50 lines every 10 ms for `seconds`; the wall-clock time each line was pushed, by seq. */
async function pushAtRate(url: string, key: string, seconds: number): Promise<number[]> {
  const end = performance.now() + seconds * 1000;
  const sent: number[] = [];
  let next = performance.now();
  while (performance.now() < end) {
    const at = Date.now();
    let body = '';
    for (let i = 0; i < 50; i++) {
      body += `line ${sent.length} ${'z'.repeat(60)}\n`;
      sent.push(at);
    }
    const res = await fetch(`${url}/ci/${key}/stream`, { method: 'PUT', body, headers: { 'Content-Type': 'text/plain' } });
    if (res.status !== 204) throw new Error(`push: HTTP ${res.status}`);
    next += 10;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
  }
  return sent;
}

/**
 * In the page: on every frame, [wall-clock ms, lines the page holds], when that grew. A line
 * counts as shown at the first frame whose count covers it: every line is measured, not only
 * the rows that happened to be on screen.
 */
const FRAME_COUNTS = `
  window.__seen = [];
  let last = 0;
  const frame = () => {
    const count = Number((document.querySelector('[data-testid=line-count]')?.textContent ?? '').replace(/[^0-9]/g, ''));
    if (count > last) { window.__seen.push([performance.timeOrigin + performance.now(), count]); last = count; }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
`;

/** The baseline: an EventSource on the same stream; [wall-clock ms, lines received] at each message. */
const EVENTSOURCE_COUNTS = (path: string) => `
  window.__seen = [];
  let count = 0;
  const source = new EventSource(${JSON.stringify(path)});
  source.onmessage = () => { count++; window.__seen.push([performance.timeOrigin + performance.now(), count]); };
`;

/** Each line's latency (first time seen − push time); lines never seen are counted apart. */
function latencies(sent: number[], seen: [number, number][]): { sorted: number[]; unseen: number } {
  const out: number[] = [];
  let frame = 0;
  for (let seq = 0; seq < sent.length; seq++) {
    while (frame < seen.length && seen[frame]![1] <= seq) frame++;
    if (frame === seen.length) return { sorted: out.sort((a, b) => a - b), unseen: sent.length - seq };
    out.push(seen[frame]![0] - sent[seq]!);
  }
  return { sorted: out.sort((a, b) => a - b), unseen: 0 };
}

export async function viewerLive(options: BenchOptions): Promise<Record<string, number | string>> {
  const seconds = options.quick ? 4 : 10;
  const server = await startLogService({ cpuProfDir: options.profileDir('viewer_live') });
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const measure = async (key: string, setup: (page: Page) => Promise<void>) => {
      const opened = await fetch(`${server.url}/ci/${key}/stream`, { method: 'POST' });
      if (opened.status !== 204) throw new Error(`open: HTTP ${opened.status}`);
      const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
      await setup(page);
      const sent = await pushAtRate(server.url, key, seconds);
      await sleep(1000);
      const seen = await page.evaluate(() => window.__seen);
      await page.close();
      return { pushed: sent.length, ...latencies(sent, seen) };
    };
    const ours = await measure('bench/2/build/live', async (page) => {
      await page.goto(`${server.url}/ui/ci/bench/2/build/live`);
      await page.getByTestId('state').filter({ hasText: 'live' }).waitFor({ timeout: 10_000 });
      await page.evaluate(FRAME_COUNTS);
    });
    const base = await measure('bench/3/build/live', async (page) => {
      await page.goto(`${server.url}/ui/`);
      await page.evaluate(EVENTSOURCE_COUNTS('/ci/bench/3/build/live/stream'));
    });
    return {
      lines_per_s: round(ours.pushed / seconds, 0),
      lines_measured: ours.sorted.length,
      unseen: ours.unseen,
      p50_ms: round(percentile(ours.sorted, 50), 1),
      p99_ms: round(percentile(ours.sorted, 99), 1),
      baseline_p50_ms: round(percentile(base.sorted, 50), 1),
      baseline_p99_ms: round(percentile(base.sorted, 99), 1),
      baseline_unseen: base.unseen,
    };
  } finally {
    await browser?.close();
    await server.stop();
  }
}
