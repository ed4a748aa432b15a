// The web log viewer end to end (docs/VIEWER.md): the page served by a real
// server, driven in Debian's Chromium by playwright-core. Pushes go over HTTP
// as a runner's would; the page is read as a viewer reads it (rows, their
// computed styles, the URL).
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/browser.ts';
import { startTestServer, type TestServer } from './support/in-process-server.ts';
import { startRedis, type TestRedis } from './support/redis-server.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

// Functions passed to page.evaluate run in the page: these are the browser globals they use.
declare const document: { querySelector(selector: string): { textContent: string | null } | null };
declare function getComputedStyle(element: unknown): { color: string; fontWeight: string };
declare const sessionStorage: { length: number; setItem(key: string, value: string): void };
declare const navigator: { clipboard: { readText(): Promise<string> } };

const TOKEN = 'viewer-test-token';

async function push(base: string, step: string, body: string, headers: Record<string, string> = {}): Promise<void> {
  const res = await fetch(`${base}/ci/${step}/stream`, { method: 'PUT', body, headers: { 'Content-Type': 'text/plain', ...headers } });
  assert.equal(res.status, 204, await res.text());
}

async function open(base: string, step: string, headers: Record<string, string> = {}): Promise<void> {
  const res = await fetch(`${base}/ci/${step}/stream`, { method: 'POST', headers });
  assert.equal(res.status, 204, await res.text());
}

function lines(from: number, to: number, make: (i: number) => string = (i) => `line ${i}`): string {
  let text = '';
  for (let i = from; i < to; i++) text += `${make(i)}\n`;
  return text;
}

/** The "N lines" the page says it holds. */
async function lineCount(page: Page): Promise<number> {
  return Number(((await page.getByTestId('line-count').textContent()) ?? '').replace(/[^0-9]/g, ''));
}

async function waitForLineCount(page: Page, count: number, timeout = 15_000): Promise<void> {
  await page.waitForFunction((n) => Number((document.querySelector('[data-testid=line-count]')?.textContent ?? '').replace(/[^0-9]/g, '')) >= n, count, {
    timeout,
  });
}

/** A server and a Chromium for one describe block: started before its tests, stopped after them. */
function serverAndBrowser(env: Record<string, string> = {}): { server: TestServer; browser: Browser } {
  const the = {} as { server: TestServer; browser: Browser };
  before(async function () {
    this.timeout(60_000);
    the.server = await startTestServer(env);
    the.browser = await launchChromium();
  });
  after(async () => {
    await the.browser?.close();
    await the.server?.destroy();
  });
  return the;
}

describe('the web log viewer in Chromium', function () {
  this.timeout(60_000);
  let browser: Browser;
  let server: TestServer;
  let proxy: TcpProxy;
  let page: Page;
  const errors: string[] = [];

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer();
    proxy = await startTcpProxy(server.port);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await proxy?.close();
    await server?.destroy();
  });
  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    page.on('pageerror', (err) => errors.push(err.message));
  });
  afterEach(async () => {
    await page.close();
    assert.deepEqual(errors.splice(0), [], 'no script error on the page');
  });

  it('serves the page at /ui/ (and / redirects there) with hashed, cached assets', async () => {
    const root = await fetch(`${server.url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/ui/');
    const index = await fetch(`${server.url}/ui/ci/a/b/c/d`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await index.text();
    const script = /src="\/ui\/assets\/(main-[A-Z0-9]+\.js)"/.exec(html);
    assert.ok(script !== null, html);
    const asset = await fetch(`${server.url}/ui/assets/${script[1]}`);
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.match(asset.headers.get('content-type') ?? '', /^text\/javascript/);
    const missing = await fetch(`${server.url}/ui/assets/..%2f..%2fpackage.json`);
    assert.equal(missing.status, 404);
    assert.equal((await fetch(`${server.url}/ui/`, { method: 'POST' })).status, 405);
  });

  it('lists open streams by project and build, and opens a live step that receives pushed lines', async () => {
    await open(server.url, 'web/1/build/compile');
    await push(server.url, 'web/1/build/compile', lines(0, 10));
    await page.goto(`${proxy.url}/ui/`);
    const link = page.getByRole('list', { name: 'stage build' }).getByRole('link', { name: 'compile' });
    await link.waitFor({ timeout: 10_000 });
    assert.equal(await page.getByRole('region', { name: 'project web' }).count(), 1);
    await link.click();
    await page.waitForURL('**/ui/ci/web/1/build/compile');
    await waitForLineCount(page, 10);
    assert.equal(await page.getByTestId('state').textContent(), 'live');
    await push(server.url, 'web/1/build/compile', lines(10, 25));
    await waitForLineCount(page, 25);
    assert.equal(await page.locator('.row[data-line="25"] .txt').textContent(), 'line 24');
    assert.equal(await page.getByTestId('follow').getAttribute('aria-pressed'), 'true');
    await fetch(`${server.url}/ci/web/1/build/compile/stream?snapshot=true`, { method: 'DELETE' });
    await page.getByTestId('state').filter({ hasText: 'finished' }).waitFor({ timeout: 10_000 });
  });

  it('resumes after the connection is cut with no duplicate and no gap', async () => {
    const step = 'web/2/build/cut';
    await open(server.url, step);
    await push(server.url, step, lines(0, 100));
    // The Last-Event-ID of every tail request: the page drops replays too, so the count alone would not show a resume from 0.
    const resumedFrom: (string | undefined)[] = [];
    page.on('request', (req) => {
      if (req.url().endsWith(`/ci/${step}/stream`)) resumedFrom.push(req.headers()['last-event-id']);
    });
    await page.goto(`${proxy.url}/ui/ci/${step}`);
    await waitForLineCount(page, 100);
    const before = proxy.connections;
    proxy.cutAll();
    await push(server.url, step, lines(100, 300));
    await waitForLineCount(page, 300);
    assert.ok(proxy.connections > before, 'the page connected again');
    await page.waitForTimeout(300); // anything duplicated would have arrived by now
    assert.equal(await lineCount(page), 300, 'no line twice, none missing');
    assert.deepEqual(resumedFrom, [undefined, '99'], 'the reconnect resumed after the last line taken');
    assert.equal(await page.getByTestId('dropped').count(), 0);
    await page.keyboard.press('G');
    await page.locator('.row[data-line="300"]').waitFor();
    assert.equal(await page.locator('.row[data-line="300"] .txt').textContent(), 'line 299');
    assert.equal(await page.getByTestId('state').textContent(), 'live');
  });

  it('opens a permalink to a line range, highlighted and in view, and sets one on click', async () => {
    const step = 'web/3/build/permalink';
    await open(server.url, step);
    await push(server.url, step, lines(0, 2000));
    await page.goto(`${proxy.url}/ui/ci/${step}#L1200-L1210`);
    const first = page.locator('.row[data-line="1200"]');
    await first.waitFor({ timeout: 10_000 });
    assert.match((await first.getAttribute('class')) ?? '', /\bselected\b/);
    assert.match((await page.locator('.row[data-line="1210"]').getAttribute('class')) ?? '', /\bselected\b/);
    assert.doesNotMatch((await page.locator('.row[data-line="1211"]').getAttribute('class')) ?? '', /\bselected\b/);
    assert.ok(await first.isVisible());
    const box = await first.boundingBox();
    assert.ok(box !== null && box.y > 0 && box.y < 700, `line 1200 is on screen (y ${box?.y})`);
    await page.locator('.row[data-line="1203"] .ln').click();
    await page.locator('.row[data-line="1206"] .ln').click({ modifiers: ['Shift'] });
    assert.equal(new URL(page.url()).hash, '#L1203-L1206');
    assert.equal(await page.locator('.row.selected').count(), 4);
    // Shift-click extends from the anchor (the line clicked first), in either direction.
    await page.locator('.row[data-line="1201"] .ln').click({ modifiers: ['Shift'] });
    assert.equal(new URL(page.url()).hash, '#L1201-L1203');
  });

  it('finds with a regular expression across lines not rendered, counts them, and jumps to each', async () => {
    const step = 'web/4/build/find';
    await open(server.url, step);
    await push(
      server.url,
      step,
      lines(0, 5000, (i) => (i % 1000 === 999 ? `line ${i} NEEDLE-${i}` : `line ${i}`)),
    );
    await page.goto(`${proxy.url}/ui/ci/${step}`);
    await waitForLineCount(page, 5000);
    await page.keyboard.press('/');
    await page.keyboard.type('needle-\\d+9$');
    await page.getByTestId('find-regex').click();
    await page.getByTestId('match-count').filter({ hasText: '0 / 5' }).waitFor({ timeout: 10_000 });
    // Case matters when asked.
    await page.getByTestId('find-case').click();
    await page.getByTestId('match-count').filter({ hasText: '0 / 0' }).waitFor();
    await page.getByTestId('find-case').click();
    await page.getByTestId('match-count').filter({ hasText: '0 / 5' }).waitFor();
    await page.getByTestId('find').press('Enter');
    await page.locator('.row[data-line="1000"] mark.current').waitFor();
    assert.equal(await page.locator('.row[data-line="1000"] mark.current').textContent(), 'NEEDLE-999');
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('n');
    await page.locator('.row[data-line="2000"] mark.current').waitFor();
    await page.keyboard.press('N');
    await page.keyboard.press('N');
    await page.locator('.row[data-line="5000"] mark.current').waitFor();
    assert.equal(await page.getByTestId('match-count').textContent(), '5 / 5');
  });

  it('renders ANSI colours, collapses sections with their duration, collapses \\r progress and links URLs', async () => {
    const step = 'web/5/build/ansi';
    await open(server.url, step);
    const body = [
      '\x1b[0Ksection_start:1700000000:setup\r\x1b[0KSetting up',
      'plain \x1b[31mred\x1b[0m \x1b[38;5;208morange\x1b[0m \x1b[38;2;10;200;30mtrue\x1b[0m \x1b[1mbold\x1b[0m',
      'see https://example.com/docs for more \x1b]8;;https://osc.example\x1b\\osc link\x1b]8;;\x1b\\ \x1b[30mblack\x1b[0m\x1b(B',
      'progress 10%\rprogress 50%\rprogress 100%',
      '\x1b[0Ksection_end:1700000042:setup\r\x1b[0K',
      '::group::Compile',
      'compiling',
      '::endgroup::',
      'after',
      '\x1b[0Ksection_start:1700000100:folded[collapsed=true]\r\x1b[0KFolded',
      'inside the folded section',
      '\x1b[0Ksection_end:1700000101:folded\r\x1b[0K',
    ].join('\n');
    await push(server.url, step, `${body}\n`);
    await page.goto(`${proxy.url}/ui/ci/${step}`);
    await waitForLineCount(page, 12);
    // GitLab's [collapsed=true]: the section comes folded.
    assert.equal(await page.locator('.row[data-line="10"] .txt').textContent(), 'Folded');
    assert.equal(await page.locator('.row[data-line="10"] [data-testid=fold]').getAttribute('aria-expanded'), 'false');
    assert.equal(await page.locator('.row[data-line="11"]').count(), 0);
    const color = (text: string) => page.locator('.row[data-line="2"] span', { hasText: new RegExp(`^${text}$`) }).evaluate((el) => getComputedStyle(el).color);
    assert.equal(await color('red'), 'rgb(187, 0, 0)');
    assert.equal(await color('orange'), 'rgb(255, 135, 0)');
    assert.equal(await color('true'), 'rgb(10, 200, 30)');
    assert.equal(await page.locator('.row[data-line="2"] span', { hasText: /^bold$/ }).evaluate((el) => getComputedStyle(el).fontWeight), '700');
    assert.equal(await page.locator('.row[data-line="3"] .txt a').getAttribute('href'), 'https://example.com/docs');
    assert.equal(await page.locator('.row[data-line="4"] .txt').textContent(), 'progress 100%');
    // OSC sequences (an OSC 8 hyperlink) and charset switches leave their text only.
    assert.equal(await page.locator('.row[data-line="3"] .txt').textContent(), 'see https://example.com/docs for more osc link black');
    // The 16 colours come from the theme: black text is readable on the dark one.
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.equal(await page.locator('.row[data-line="3"] span', { hasText: /^black$/ }).evaluate((el) => getComputedStyle(el).color), 'rgb(139, 148, 158)');
    await page.emulateMedia({ colorScheme: 'light' });
    assert.equal(await page.locator('.row[data-line="1"] .txt').textContent(), 'Setting up');
    assert.equal(await page.locator('.row[data-line="1"] .duration').textContent(), '42.0 s');
    assert.equal(await page.locator('.row[data-line="5"]').count(), 0, "the end marker's row is not shown");
    await page.locator('.row[data-line="1"] [data-testid=fold]').click();
    await page.locator('.row[data-line="2"]').waitFor({ state: 'detached' });
    assert.equal(await page.locator('.row[data-line="4"]').count(), 0);
    assert.equal(await page.locator('.row[data-line="6"] .txt').textContent(), 'Compile');
    await page.locator('.row[data-line="1"] [data-testid=fold]').click();
    await page.locator('.row[data-line="2"]').waitFor();
  });

  it('shows a dropped marker saying how many lines were lost', async () => {
    const step = 'web/6/build/dropped';
    // A snapshot taken after its ring had trimmed lines 0–499 (docs/PROTOCOL.md §5.4): every viewer gets `dropped` for them.
    let rows = '';
    for (let i = 500; i < 1500; i++) rows += `${JSON.stringify({ level: 'info', pos: i, out: `line ${i}\n`, time: '2026-12-05T10:00:00.000Z' })}\n`;
    const upload = await fetch(`${server.url}/ci/${step}/blob`, {
      method: 'PUT',
      body: rows,
      headers: { 'Content-Type': 'application/x-ndjson; first-seq=500; first-offset=4390' },
    });
    assert.equal(upload.status, 204);
    await page.goto(`${proxy.url}/ui/ci/${step}`);
    await waitForLineCount(page, 1000);
    await page.getByTestId('state').filter({ hasText: 'finished' }).waitFor();
    await page.keyboard.press('g');
    const marker = page.getByTestId('dropped');
    await marker.waitFor();
    assert.match((await marker.textContent()) ?? '', /500 lines \(1–500\) were lost/);
    assert.equal(await page.locator('.row[data-line="501"] .txt').textContent(), 'line 500');
  });

  it('filters by level and shows timestamps relative to the first line', async () => {
    const step = 'web/7/build/levels';
    await open(server.url, step);
    const rows = [
      { level: 'info', out: 'starting\n', time: '2026-12-05T10:00:00.000Z' },
      { level: 'error', out: 'it broke\n', time: '2026-12-05T10:00:01.500Z' },
      { level: 'warn', out: 'careful\n', time: '2026-12-05T10:01:02.000Z' },
    ];
    await push(server.url, step, JSON.stringify(rows), { 'Content-Type': 'application/json' });
    await page.goto(`${proxy.url}/ui/ci/${step}`);
    await waitForLineCount(page, 3);
    await page.getByTestId('level-info').uncheck();
    await page.locator('.row[data-line="1"]').waitFor({ state: 'detached' });
    assert.equal(await page.locator('.row').count(), 2);
    await page.getByTestId('time-mode').selectOption('relative');
    assert.equal(await page.locator('.row[data-line="3"] .ts').textContent(), '+01:02.000');
    await page.getByTestId('time-mode').selectOption('wall');
    assert.equal(await page.locator('.row[data-line="2"] .ts').textContent(), '10:00:01.500');
  });
});

describe('the web log viewer: follow, keys, wrap, copy, downloads, narrow screens', function () {
  this.timeout(60_000);
  const the = serverAndBrowser();
  let page: Page;
  afterEach(async () => page?.close());

  it('follows the end only while at the bottom: scrolling up stops it, "jump to end" and f bring it back', async () => {
    const step = 'keys/1/build/follow';
    await open(the.server.url, step);
    await push(the.server.url, step, lines(0, 500));
    page = await the.browser.newPage({ viewport: { width: 900, height: 500 } });
    await page.goto(`${the.server.url}/ui/ci/${step}`);
    await page.locator('.row[data-line="500"]').waitFor();
    await page.locator('[data-testid=log]').hover();
    await page.mouse.wheel(0, -3000);
    await page.getByTestId('jump-to-end').waitFor();
    assert.equal(await page.getByTestId('follow').getAttribute('aria-pressed'), 'false');
    await push(the.server.url, step, lines(500, 600));
    await waitForLineCount(page, 600);
    assert.equal(await page.locator('.row[data-line="600"]').count(), 0, 'not following: the new end is not scrolled to');
    await page.getByTestId('jump-to-end').click();
    await page.locator('.row[data-line="600"]').waitFor();
    assert.equal(await page.getByTestId('follow').getAttribute('aria-pressed'), 'true');
    await page.keyboard.press('g');
    await page.locator('.row[data-line="1"]').waitFor();
    await page.keyboard.press('f');
    await page.locator('.row[data-line="600"]').waitFor();
    await push(the.server.url, step, lines(600, 700));
    await page.locator('.row[data-line="700"]').waitFor();
  });

  it('wraps long lines on demand, copies the selected lines, and downloads the raw log and the build zip', async () => {
    const step = 'keys/2/build/wrap';
    await open(the.server.url, step);
    await push(
      the.server.url,
      step,
      lines(0, 30, (i) => (i === 3 ? `long ${'word '.repeat(300)}end` : `\x1b[31mline ${i}\x1b[0m`)),
    );
    const context = await the.browser.newContext({ acceptDownloads: true, viewport: { width: 900, height: 600 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: the.server.url });
    page = await context.newPage();
    await page.goto(`${the.server.url}/ui/ci/${step}#L2-L4`);
    await page.locator('.row[data-line="4"]').waitFor();
    const height = async () => (await page.locator('.row[data-line="4"]').boundingBox())!.height;
    assert.ok((await height()) <= 24, 'one line high unwrapped');
    await page.getByTestId('wrap').click();
    await page.waitForFunction(
      () => (document.querySelector('.row[data-line="4"]') as unknown as { getBoundingClientRect(): { height: number } }).getBoundingClientRect().height > 60,
    );
    assert.ok(
      (await page.locator('.row[data-line="5"]').boundingBox())!.y >= (await page.locator('.row[data-line="4"]').boundingBox())!.y + (await height()) - 1,
      'the next row starts below the wrapped one',
    );

    await page.getByTestId('copy').click();
    await page.getByRole('status').filter({ hasText: 'copied 3 lines' }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, `line 1\nline 2\nlong ${'word '.repeat(300)}end\n`);

    const [raw] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-raw').click()]);
    assert.equal(raw.suggestedFilename(), 'keys-2-build-wrap.log');
    const rawPath = await raw.path();
    const { readFile } = await import('node:fs/promises');
    assert.equal(
      await readFile(rawPath, 'utf8'),
      lines(0, 30, (i) => (i === 3 ? `long ${'word '.repeat(300)}end` : `\x1b[31mline ${i}\x1b[0m`)),
    );
    // The build's zip holds its stored logs: this step's, once it is closed with a snapshot.
    assert.equal((await fetch(`${the.server.url}/ci/${step}/stream?snapshot=true`, { method: 'DELETE' })).status, 204);
    const [zip] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-zip').click()]);
    assert.equal(zip.suggestedFilename(), 'keys-2-build-wrap-build.zip');
    assert.equal((await readFile(await zip.path())).subarray(0, 2).toString(), 'PK');
    await context.close();
  });

  it('is usable 320 px wide: nothing wider than the screen but the log, which scrolls', async () => {
    const step = 'keys/3/build/narrow';
    await open(the.server.url, step);
    await push(
      the.server.url,
      step,
      lines(0, 50, (i) => `line ${i} ${'x'.repeat(200)}`),
    );
    page = await the.browser.newPage({ viewport: { width: 320, height: 640 } });
    await page.goto(`${the.server.url}/ui/ci/${step}`);
    await page.locator('.row[data-line="50"]').waitFor();
    const widths = await page.evaluate(() => {
      const d = document as unknown as { documentElement: { scrollWidth: number } };
      return d.documentElement.scrollWidth;
    });
    assert.ok(widths <= 320, `the page is ${widths} px wide`);
    assert.ok(await page.getByTestId('find').isVisible());
    assert.ok(await page.getByTestId('follow').isVisible());
  });
});

describe('the web log viewer on Redis streams, Harness routes', function () {
  this.timeout(60_000);
  let browser: Browser;
  let redis: TestRedis | null = null;
  let server: TestServer;
  let other: TestServer;

  before(async function () {
    this.timeout(60_000);
    redis = await startRedis();
    if (redis === null) this.skip();
    server = await startTestServer({ LOG_SERVICE_REDIS_URL: redis.url });
    other = await startTestServer({ LOG_SERVICE_REDIS_URL: redis.url });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.destroy();
    await other?.destroy();
    await redis?.stop();
  });

  it('shows a Harness key pushed through another instance, live, then finished', async () => {
    const q = 'accountID=acme&key=pipeline%2F7%2Fcompile';
    assert.equal((await fetch(`${other.url}/stream?${q}`, { method: 'POST' })).status, 204);
    const pushHarness = async (body: string) =>
      assert.equal((await fetch(`${other.url}/stream?${q}`, { method: 'PUT', body, headers: { 'Content-Type': 'text/plain' } })).status, 204);
    await pushHarness(lines(0, 40));
    const page = await browser.newPage();
    await page.goto(`${server.url}/ui/`);
    // The account alone lists its streams (from /stream/info); a key opens its log.
    await page.getByLabel('Harness account ID').fill('acme');
    await page.getByRole('button', { name: 'open' }).click();
    await page.waitForURL('**/ui/?accountID=acme');
    await page.getByRole('link', { name: 'compile' }).click();
    await page.waitForURL('**/ui/stream?accountID=acme&key=pipeline%2F7%2Fcompile');
    await page.goto(`${server.url}/ui/`);
    await page.getByLabel('Harness account ID').fill('acme');
    await page.getByLabel('Harness key').fill('pipeline/7/compile');
    await page.getByRole('button', { name: 'open' }).click();
    await page.waitForURL('**/ui/stream?accountID=acme&key=pipeline%2F7%2Fcompile');
    await waitForLineCount(page, 40);
    assert.equal(await page.getByTestId('state').textContent(), 'live');
    await pushHarness(lines(40, 60));
    await waitForLineCount(page, 60);
    assert.equal((await fetch(`${other.url}/stream?${q}&snapshot=true`, { method: 'DELETE' })).status, 204);
    await page.getByTestId('state').filter({ hasText: 'finished' }).waitFor({ timeout: 10_000 });
    assert.equal(await lineCount(page), 60);
    assert.equal(await page.getByTestId('download-zip').count(), 0, 'Harness keys have no build zip');
    await page.close();
  });
});

describe('the web log viewer with a 1,000,000-line log', function () {
  this.timeout(180_000);
  const the = serverAndBrowser();

  it('loads every line of a finished ~100 MB log in a JS heap under 300 MB, and shows its last line (the timings are in npm run bench: viewer_large)', async () => {
    const count = 1_000_000;
    const rows: string[] = [];
    for (let i = 0; i < count; i++)
      rows.push(`${JSON.stringify({ level: 'info', pos: i, out: `${String(i).padStart(7, '0')} ${'y'.repeat(90)}\n`, time: '2026-12-05T10:00:00.000Z' })}\n`);
    const upload = await fetch(`${the.server.url}/ci/big/1/build/log/blob`, {
      method: 'PUT',
      body: rows.join(''),
      headers: { 'Content-Type': 'application/x-ndjson' },
    });
    assert.equal(upload.status, 204);
    rows.length = 0;
    const page = await the.browser.newPage();
    await page.goto(`${the.server.url}/ui/ci/big/1/build/log`);
    await page.getByTestId('state').filter({ hasText: 'finished' }).waitFor({ timeout: 150_000 });
    await waitForLineCount(page, count, 30_000);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('HeapProfiler.collectGarbage');
    const { usedSize } = await cdp.send('Runtime.getHeapUsage');
    assert.ok(usedSize < 300 * 2 ** 20, `JS heap ${(usedSize / 2 ** 20).toFixed(1)} MB`);
    await page.keyboard.press('G');
    await page.locator(`.row[data-line="${count}"]`).waitFor();
    assert.equal(await page.locator(`.row[data-line="${count}"] .txt`).textContent(), `0999999 ${'y'.repeat(90)}`);
    await page.close();
  });
});

describe('the web log viewer with auth on', function () {
  this.timeout(60_000);
  const the = serverAndBrowser({ LOG_SERVICE_GLOBAL_TOKEN: TOKEN });

  it('asks for a token once, keeps it out of every URL, and says so when a token may not read the log', async () => {
    const auth = { Authorization: `Bearer ${TOKEN}` };
    await open(the.server.url, 'sec/1/build/test', auth);
    await push(the.server.url, 'sec/1/build/test', lines(0, 20), auth);
    const page = await the.browser.newPage();
    const urls: string[] = [];
    page.on('request', (req) => urls.push(req.url()));
    await page.goto(`${the.server.url}/ui/ci/sec/1/build/test`);
    await page.getByTestId('auth-message').filter({ hasText: '401' }).waitFor({ timeout: 10_000 });
    await page.getByTestId('token').fill('wrong');
    await page.getByTestId('token').press('Enter');
    // A token the server cannot verify is refused with 403; the prompt comes back and says so.
    await page.getByTestId('auth-message').filter({ hasText: '403' }).waitFor({ timeout: 10_000 });
    await page.getByTestId('token').fill(TOKEN);
    await page.getByTestId('token').press('Enter');
    await waitForLineCount(page, 20);
    assert.equal(await page.getByTestId('auth-message').count(), 0);
    assert.equal(await page.evaluate(() => sessionStorage.length), 1);
    assert.ok(!urls.some((url) => url.includes(TOKEN) || url.includes('token=')), urls.join('\n'));
    assert.ok(!page.url().includes(TOKEN));

    // A token scoped to another prefix gets a 403 and a message that says what to do.
    const scoped = await (await fetch(`${the.server.url}/token?accountID=default&key=other/&access=read`, { headers: auth })).text();
    await page.evaluate((t) => sessionStorage.setItem('log-service.token', t), scoped.trim());
    await page.reload();
    await page.getByTestId('auth-message').filter({ hasText: '403' }).waitFor({ timeout: 10_000 });
    await page.close();
  });
});
