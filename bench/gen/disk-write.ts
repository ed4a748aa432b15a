// The disk's durable write rate: `bytes` written in 1 MiB pieces to a file in
// `dir` (the filesystem the LMDB store uses), then fsync — what `dd
// conv=fdatasync` measures. A durable blob upload cannot beat this.
import { randomBytes } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { finish, generatorConfig } from '../lib/generator.ts';

interface Config {
  dir: string;
  bytes: number;
}
const cfg = generatorConfig<Config>();
const chunk = randomBytes(1024 * 1024);
const file = join(cfg.dir, 'disk-write-probe');
const start = performance.now();
const handle = await open(file, 'w');
for (let written = 0; written < cfg.bytes; written += chunk.length) await handle.write(chunk);
await handle.sync();
await handle.close();
const seconds = (performance.now() - start) / 1000;
await rm(file, { force: true });
finish({ mb_per_s: cfg.bytes / 2 ** 20 / seconds });
