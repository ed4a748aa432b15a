// tailsrv_fanout's writer: waits for {type:'go'}, then appends `lines` lines
// to `file`, in batches of at most `batchLines` (one write each): as fast as
// it can, or, with `mbPerSecond`, at that steady rate (every millisecond or
// so, the lines due by then). Every line is exactly LINE_BYTES long and
// carries the time its batch was written:
// `<seq, 10 digits> <ms since the time origin, 17 chars> <padding>\n`,
// so a client can measure append→receipt from the last line of any chunk.
// With `sha256`, reports the hash of every byte written.
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { finish, generatorConfig, nowMs, post, receive } from '../lib/generator.ts';

interface Config {
  file: string;
  lines: number;
  batchLines: number;
  lineBytes: number;
  /** Append at this steady rate (MiB/s) instead of as fast as possible. */
  mbPerSecond?: number;
  /** Hash what is written (off for the full-speed run, where it would slow the writer). */
  sha256?: boolean;
}
const cfg = generatorConfig<Config>();
const fd = openSync(cfg.file, 'a');
post({ ready: true });
await receive('go');
const pad = 'x'.repeat(cfg.lineBytes - 10 - 1 - 17 - 1 - 1);
const linesPerMs = cfg.mbPerSecond === undefined ? undefined : (cfg.mbPerSecond * 2 ** 20) / cfg.lineBytes / 1000;
const hash = cfg.sha256 ? createHash('sha256') : undefined;
const start = nowMs();
for (let seq = 0; seq < cfg.lines;) {
  const due = linesPerMs === undefined ? cfg.lines : Math.min(cfg.lines, Math.floor((nowMs() - start) * linesPerMs));
  if (due <= seq) {
    await sleep(1);
    continue;
  }
  const stamp = nowMs().toFixed(3).padStart(17, ' ');
  const parts: string[] = [];
  for (let i = 0; i < cfg.batchLines && seq < due; i++, seq++) parts.push(`${String(seq).padStart(10, '0')} ${stamp} ${pad}\n`);
  const batch = parts.join('');
  writeSync(fd, batch);
  hash?.update(batch);
}
const end = nowMs();
closeSync(fd);
finish({ start_ms: start, end_ms: end, bytes: cfg.lines * cfg.lineBytes, sha256: hash?.digest('hex') });
