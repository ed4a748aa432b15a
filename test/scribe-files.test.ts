// go-scribe's file output (docs/SCRIBE.md §3): the tee over the real memory
// backend writing real files — layout, one newline a line, size rotation and its
// names, concurrent writers, a write that fails then recovers, a full disk
// (a real tmpfs), the bounded queue and --console.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { isServiceError } from '../foundation/errors.ts';
import { RotatingFile } from '../scribe/rotating-file.ts';
import { ScribeFiles } from '../scribe/scribe-files.ts';
import { ScribeTee } from '../scribe/scribe-tee.ts';
import { MemoryLogStream } from '../stream/memory-log-stream.ts';

const LIMITS = { maxLines: 100_000, maxBytes: 64 * 1024 * 1024, ttlSeconds: 3600, maxLineBytes: 64 * 1024, closedGraceSeconds: 1 };
/** A fixed clock: every rotation of a test falls in the same second (04 Dec 2026 18:30:05 UTC). */
const NOW = () => new Date(Date.UTC(2026, 11, 4, 18, 30, 5));
const STAMP = '04122026183005';

interface Setup {
  dir: string;
  backend: MemoryLogStream;
  tee: ScribeTee;
  console: PassThrough;
}

function setup(dir: string, maxBytes: number, extra: { maxQueuedBytes?: number } = {}): Setup {
  const backend = new MemoryLogStream(LIMITS, { maxStreams: 1000, memoryBudgetBytes: 256 * 1024 * 1024 });
  // A console that someone reads (a terminal): it never falls behind.
  const console = new PassThrough().resume();
  const files = new ScribeFiles({ dir, maxBytes, now: NOW, ...extra });
  return { dir, backend, console, tee: new ScribeTee(backend, { files, maxLineBytes: LIMITS.maxLineBytes, console }) };
}

/** Every file of one key's rotation, oldest first: `<base>_<stamp>.log`, `_1`, `_2`, …, then the live `<base>.log`. */
function rotationOrder(dir: string, base: string): string[] {
  const names = readdirSync(dir).filter((n) => n === `${base}.log` || n.startsWith(`${base}_`));
  const rank = (n: string) => {
    if (n === `${base}.log`) return Number.MAX_SAFE_INTEGER;
    const m = new RegExp(`^${base}_(\\d{14})(?:_(\\d+))?\\.log$`).exec(n);
    assert.ok(m, `unexpected file name ${n}`);
    return Number(m[2] ?? 0);
  };
  return names.sort((a, b) => rank(a) - rank(b));
}

describe('scribe file output', function () {
  let dir: string;
  let current: Setup | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'logsvc-scribe-'));
  });
  afterEach(async () => {
    await current?.tee.shutdown();
    current = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('appends each stored line to DIR/<key>.log with exactly one trailing newline, per account', async () => {
    current = setup(dir, -1);
    const { tee } = current;
    await tee.open('default/app/server');
    await tee.push('default/app/server', [{ out: 'a' }, { out: 'b\n' }, { out: 'c\n\n\n' }, { out: 'd\r\n' }]);
    assert.equal(readFileSync(join(dir, 'app/server.log'), 'utf8'), 'a\nb\nc\nd\r\n');
    await tee.open('acme/app/server');
    await tee.push('acme/app/server', [{ out: 'other account' }]);
    assert.equal(readFileSync(join(dir, '@acme/app/server.log'), 'utf8'), 'other account\n');
    // A default-account key that looks like another account's directory goes under @default/.
    await tee.open('default/@acme/x');
    await tee.push('default/@acme/x', [{ out: 'not acme' }]);
    assert.equal(readFileSync(join(dir, '@default/@acme/x.log'), 'utf8'), 'not acme\n');
    // And the backend has every line as pushed: the tee only adds the file.
    const stored = [];
    for await (const line of current.backend.lines('default/app/server')) stored.push(line.textBytes);
    assert.equal(stored.length, 4);
  });

  it('rotates before a write that would pass the limit, to <name>_<DDMMYYYYhhmmss>.log, never overwriting within one second', async () => {
    current = setup(dir, 10);
    const { tee } = current;
    await tee.open('default/svc');
    for (let i = 0; i < 5; i++) await tee.push('default/svc', [{ out: `ab${i}` }]);
    // Each line is 4 bytes: two fit in 10, the third would pass it.
    assert.deepEqual(rotationOrder(dir, 'svc'), [`svc_${STAMP}.log`, `svc_${STAMP}_1.log`, 'svc.log']);
    assert.equal(readFileSync(join(dir, `svc_${STAMP}.log`), 'utf8'), 'ab0\nab1\n');
    assert.equal(readFileSync(join(dir, `svc_${STAMP}_1.log`), 'utf8'), 'ab2\nab3\n');
    assert.equal(readFileSync(join(dir, 'svc.log'), 'utf8'), 'ab4\n');
    // One push of many lines rotates between its lines too; a line longer than the limit gets a file of its own.
    await tee.push('default/svc', [{ out: 'x'.repeat(30) }, { out: 'ab5' }]);
    const files = rotationOrder(dir, 'svc');
    assert.equal(readFileSync(join(dir, files.at(-2)!), 'utf8'), `${'x'.repeat(30)}\n`);
    assert.equal(readFileSync(join(dir, 'svc.log'), 'utf8'), 'ab5\n');
  });

  it('keeps every line, each writer in order and no file overwritten, under 20 concurrent writers', async () => {
    const limit = 300;
    current = setup(dir, limit);
    const { tee } = current;
    await tee.open('default/busy');
    const writers = 20;
    const perWriter = 50;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i++) await tee.push('default/busy', [{ out: `w${w}-${i}` }]);
      }),
    );
    const files = rotationOrder(dir, 'busy');
    assert.ok(files.length > 10, `expected many rotations, got ${files.length} files`);
    for (const f of files) assert.ok(statSync(join(dir, f)).size <= limit, `${f} is over the limit`);
    const lines = files
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('')
      .split('\n')
      .slice(0, -1);
    assert.equal(lines.length, writers * perWriter);
    assert.equal(new Set(lines).size, writers * perWriter);
    for (let w = 0; w < writers; w++) {
      const mine = lines.filter((l) => l.startsWith(`w${w}-`)).map((l) => Number(l.split('-')[1]));
      assert.deepEqual(
        mine,
        Array.from({ length: perWriter }, (_, i) => i),
      );
    }
    // The file's order is the stream's order.
    const stored = [];
    for await (const line of current.backend.lines('default/busy'))
      stored.push(JSON.parse(line.event.subarray(line.jsonStart, line.event.length - 2).toString()).out);
    assert.deepEqual(lines, stored);
  });

  it('answers a failed write with an error to that caller, and the next write succeeds', async () => {
    current = setup(dir, -1);
    const { tee } = current;
    await tee.open('default/blocked/x');
    // A file where the directory should be: the write cannot happen, whoever runs the test (root too).
    writeFileSync(join(dir, 'blocked'), 'in the way');
    await assert.rejects(
      tee.push('default/blocked/x', [{ out: 'first' }]),
      (err: unknown) => isServiceError(err) && err.code === 'LOGSVC_BACKEND_UNAVAILABLE' && /blocked\/x\.log/.test(err.message),
    );
    rmSync(join(dir, 'blocked'));
    await tee.push('default/blocked/x', [{ out: 'second' }]);
    assert.equal(readFileSync(join(dir, 'blocked/x.log'), 'utf8'), 'second\n');
  });

  it('refuses at once, before storing, when a file has more than its queue bound waiting', async () => {
    const file = new RotatingFile(join(dir, 'q'), { maxBytes: -1, maxQueuedBytes: 100, root: dir });
    const first = file.reserve([Buffer.alloc(80, 'a')]);
    assert.throws(
      () => file.reserve([Buffer.alloc(30, 'b')]),
      (err: unknown) => isServiceError(err) && err.code === 'LOGSVC_BACKEND_UNAVAILABLE',
    );
    const second = file.reserve([Buffer.alloc(20, 'c')]);
    first.cancel();
    await second.commit();
    await file.flush();
    assert.equal(readFileSync(join(dir, 'q.log'), 'utf8'), 'c'.repeat(20));
  });

  it('keeps at most maxOpenFiles descriptors open, and closes files idle for idleCloseMs', async () => {
    const files = new ScribeFiles({ dir, maxBytes: -1, maxOpenFiles: 3, idleCloseMs: 200 });
    /** Descriptors of this process open on files under `dir` (what the kernel says, not what the writer thinks). */
    const openHere = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
        } catch {
          return false;
        }
      }).length;
    try {
      for (let i = 0; i < 8; i++) {
        await files
          .file(`default/f${i}`)
          .reserve([Buffer.from(`line ${i}\n`)])
          .commit();
        assert.ok(openHere() <= 3, `${openHere()} descriptors open after ${i + 1} files`);
      }
      assert.ok(openHere() >= 1);
      // The idle sweep runs every idleCloseMs / 2: everything is closed within a few sweeps.
      const deadline = Date.now() + 5000;
      while (openHere() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(openHere(), 0);
      for (let i = 0; i < 8; i++) assert.equal(readFileSync(join(dir, `f${i}.log`), 'utf8'), `line ${i}\n`);
    } finally {
      await files.close();
    }
  });

  it('prints each stored line on the console with --console', async () => {
    current = setup(dir, -1);
    const { tee, console } = current;
    const seen: Buffer[] = [];
    console.on('data', (c: Buffer) => seen.push(c));
    await tee.open('default/c');
    await tee.push('default/c', [{ out: 'to the console' }, { out: 'twice\n' }]);
    assert.equal(Buffer.concat(seen).toString(), 'to the console\ntwice\n');
  });

  describe('on a full disk (a real 64 KiB tmpfs)', function () {
    let mounted: string | undefined;
    before(function () {
      mounted = mkdtempSync(join(tmpdir(), 'logsvc-scribe-full-'));
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mounted], { stdio: 'pipe' });
      } catch {
        rmSync(mounted, { recursive: true, force: true });
        mounted = undefined;
        console.warn('    (skipped: cannot mount a tmpfs here; needs root)');
        this.skip();
      }
    });
    after(() => {
      if (mounted === undefined) return;
      execFileSync('umount', [mounted]);
      rmSync(mounted, { recursive: true, force: true });
    });

    it('answers LOGSVC_STORAGE_FULL, keeps whole lines only, and writes again once there is room', async () => {
      const scribeDir = join(mounted!, 'logs');
      current = setup(scribeDir, -1);
      const { tee } = current;
      await tee.open('default/full');
      await tee.push('default/full', [{ out: 'before' }]);
      writeFileSync(join(mounted!, 'filler'), Buffer.alloc(40 * 1024));
      await assert.rejects(
        tee.push('default/full', [{ out: 'y'.repeat(60 * 1024) }]),
        (err: unknown) => isServiceError(err) && err.code === 'LOGSVC_STORAGE_FULL',
      );
      assert.equal(readFileSync(join(scribeDir, 'full.log'), 'utf8'), 'before\n');
      rmSync(join(mounted!, 'filler'));
      await tee.push('default/full', [{ out: 'after' }]);
      assert.equal(readFileSync(join(scribeDir, 'full.log'), 'utf8'), 'before\nafter\n');
      await tee.shutdown();
      current = undefined;
    });
  });
});
