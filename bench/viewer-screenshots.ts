// The README's screenshots of the step page (docs/VIEWER.md), light and dark:
// `node --import=tsx bench/viewer-screenshots.ts` (after `npm run build`)
// writes docs/images/viewer-light.png and viewer-dark.png from a real server
// and Debian's Chromium, with a log that shows sections, colours, levels, a
// search and a selected range.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '../test/support/browser.ts';
import { REPO_ROOT, startLogService } from './lib/processes.ts';

const server = await startLogService();
const browser = await launchChromium();
try {
  const step = `${server.url}/ci/shop/1187/build/test`;
  await fetch(`${step}/stream`, { method: 'POST' });
  const t = (s: number) => new Date(Date.UTC(2026, 11, 5, 9, 30, s)).toISOString();
  const rows = [
    { out: '\x1b[0Ksection_start:1796463000:deps\r\x1b[0KInstalling dependencies\n', time: t(0) },
    { out: 'npm ci --no-audit\n', time: t(1) },
    { out: 'added 412 packages in 6s\n', time: t(7) },
    { out: '\x1b[0Ksection_end:1796463007:deps\r\x1b[0K\n', time: t(7) },
    { out: '::group::Compile\n', time: t(8) },
    { out: '\x1b[36m[tsc]\x1b[0m compiling 214 files\n', time: t(8) },
    { out: 'progress 10%\rprogress 60%\rprogress 100%\n', time: t(12) },
    { out: '::endgroup::\n', time: t(14) },
    { out: '\x1b[1mRunning tests\x1b[0m (see https://ci.example.com/shop/1187)\n', time: t(15) },
    ...Array.from({ length: 14 }, (_, i) => ({ out: `  \x1b[32m✔\x1b[0m cart ${i + 1}: adds an item and totals it (${3 + i} ms)\n`, time: t(16 + i) })),
    { level: 'warn', out: '  \x1b[33m!\x1b[0m checkout: retried once (flaky payment stub)\n', time: t(31) },
    { level: 'error', out: '  \x1b[31m✖ checkout: rounds the total to cents\x1b[0m\n', time: t(32) },
    { level: 'error', out: '    AssertionError: expected 10.005 to equal 10.01\n', time: t(32) },
    { out: '\x1b[38;2;255;140;0m15 passing, 1 failing\x1b[0m\n', time: t(33) },
  ];
  await fetch(`${step}/stream`, { method: 'PUT', body: JSON.stringify(rows), headers: { 'Content-Type': 'application/json' } });
  mkdirSync(join(REPO_ROOT, 'docs/images'), { recursive: true });
  for (const scheme of ['light', 'dark'] as const) {
    const page = await browser.newPage({ viewport: { width: 1100, height: 720 }, colorScheme: scheme });
    await page.goto(`${server.url}/ui/ci/shop/1187/build/test#L26-L27`);
    await page.locator('.row[data-line="27"]').waitFor();
    await page.getByTestId('time-mode').selectOption('relative');
    await page.getByTestId('find').fill('checkout');
    await page.getByTestId('match-count').filter({ hasText: '/ 2' }).waitFor();
    await page.screenshot({ path: join(REPO_ROOT, `docs/images/viewer-${scheme}.png`) });
    await page.close();
  }
} finally {
  await browser.close();
  await server.stop();
}
