// One process per LMDB file (docs/BACKENDS.md §4, "One process per data file"). LMDB itself
// lets several processes share a file, but the blob store does not: at open it sweeps the
// chunks of uploads "a crash left", and those could be another live process's uploads in
// flight. So before the store touches the file it takes `<path>.owner.lock`, created
// exclusively (O_EXCL) and holding who owns it. A second process refuses to start with
// "in use by process N".
//
// A lock left by a process that is gone (kill -9, a crash, a power cut) is taken over.
// Whether its owner is gone is decided as precisely as the owner can be seen:
//  * same kernel and pid namespace (the usual case, and a restarted container): the pid is
//    gone, or is now another process (a different start time: pids are reused, and a
//    container's server is often pid 1 on every start);
//  * the same host name but a different boot: the machine rebooted since;
//  * otherwise (another container sharing the volume, another machine): the owner cannot
//    be seen, and it is taken to be gone once the lock file has not been refreshed for
//    30 s (the owner touches it every 10 s).
import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, readlinkSync, renameSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

/** How often the owner refreshes the lock file's mtime, and how old it must be to count as abandoned. */
const HEARTBEAT_MS = 10_000;
const STALE_AFTER_MS = 30_000;

/** Who holds a lock, as written into the lock file. */
interface LockOwner {
  pid: number;
  host: string;
  /** Linux: /proc/sys/kernel/random/boot_id, the same for every container on one kernel boot. */
  bootId?: string;
  /** Linux: the pid namespace (readlink /proc/self/ns/pid): pids compare only within one. */
  pidNs?: string;
  /** Linux: the process's start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  startTicks?: string;
  since: string;
}

/** The store's file is held by another live process. */
class DataInUseError extends Error {
  override readonly name = 'DataInUseError';
}

/** The locks this process holds, by lock path (a second store on the same file in one process is refused too). */
const heldHere = new Map<string, DataLock>();
let exitHookInstalled = false;

/** Releases every lock on any exit, also process.exit() after a fatal error. */
function releaseAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lock of [...heldHere.values()]) lock.release();
  });
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function startTicksOf(pid: number | 'self'): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

function me(): LockOwner {
  return {
    pid: process.pid,
    host: hostname(),
    bootId: readText('/proc/sys/kernel/random/boot_id'),
    pidNs: pidNamespace(),
    startTicks: startTicksOf('self'),
    since: new Date().toISOString(),
  };
}

function parseOwner(text: string | undefined): LockOwner | undefined {
  if (text === undefined) return undefined;
  try {
    const owner = JSON.parse(text) as Partial<LockOwner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? (owner as LockOwner) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid runs in our pid namespace (EPERM: it does, as another user). */
function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why the owner still holds the lock, or undefined when it is gone. */
function ownerStillThere(path: string, owner: LockOwner | undefined, self: LockOwner, mtimeMs: number): string | undefined {
  const fresh = Date.now() - mtimeMs < STALE_AFTER_MS;
  // Half written (an owner starting this instant) or not ours to read: trust the heartbeat.
  if (owner === undefined) return fresh ? 'a process that is starting' : undefined;
  const sameMachine = owner.bootId !== undefined && self.bootId !== undefined ? owner.bootId === self.bootId : owner.host === self.host;
  if (sameMachine && owner.pidNs === self.pidNs) {
    if (owner.pid === self.pid) return heldHere.has(path) ? 'this process' : undefined;
    if (!pidRuns(owner.pid)) return undefined;
    const ticks = startTicksOf(owner.pid);
    if (owner.startTicks !== undefined && ticks !== undefined && ticks !== owner.startTicks) return undefined;
    return `process ${owner.pid}`;
  }
  if (owner.host === self.host && owner.bootId !== undefined && self.bootId !== undefined && owner.bootId !== self.bootId) return undefined;
  return fresh ? `process ${owner.pid} on ${owner.host} (its lock was refreshed ${Math.round((Date.now() - mtimeMs) / 1000)} s ago)` : undefined;
}

export class DataLock {
  private heartbeat: NodeJS.Timeout | undefined;
  private released = false;

  private constructor(
    readonly path: string,
    private readonly content: string,
  ) {
    heldHere.set(path, this);
    releaseAllOnExit();
    this.heartbeat = setInterval(() => {
      try {
        const now = new Date();
        utimesSync(this.path, now, now);
      } catch {
        // Touched again in 10 s; a missing file is noticed at release.
      }
    }, HEARTBEAT_MS).unref();
  }

  /**
   * Takes the lock for the data file `dataPath` (`<dataPath>.owner.lock`), taking over one
   * whose owner is gone. Throws DataInUseError when a live process holds it.
   */
  static acquire(dataPath: string): DataLock {
    const path = `${dataPath}.owner.lock`;
    const self = me();
    const content = `${JSON.stringify(self)}\n`;
    for (let attempt = 0; attempt < 5; attempt++) {
      let fd: number;
      try {
        fd = openSync(path, 'wx', 0o644);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        DataLock.removeIfAbandoned(path, dataPath, self);
        continue;
      }
      try {
        writeSync(fd, content);
      } finally {
        closeSync(fd);
      }
      return new DataLock(path, content);
    }
    throw new DataInUseError(`${dataPath} is in use: its lock ${path} keeps changing hands; try again`);
  }

  /** Throws DataInUseError when the lock's owner is alive; otherwise moves the lock out of the way. */
  private static removeIfAbandoned(path: string, dataPath: string, self: LockOwner): void {
    let text: string | undefined;
    let mtimeMs: number;
    try {
      text = readFileSync(path, 'utf8');
      mtimeMs = statSync(path).mtimeMs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // released meanwhile: try again
      throw err;
    }
    const holder = ownerStillThere(path, parseOwner(text), self, mtimeMs);
    if (holder !== undefined) {
      throw new DataInUseError(`${dataPath} is in use by ${holder} (lock file ${path}; if that process is gone for good, delete the file)`);
    }
    // Moved aside, then checked: if another starter took the lock over between our read and
    // the rename, what we moved is its fresh lock, and it goes back.
    const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      renameSync(path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    if (readText(aside) !== text.trim()) {
      try {
        linkSync(aside, path);
      } catch {
        // A third starter holds it now; it wins, and our next attempt says so.
      }
    }
    unlinkSync(aside);
  }

  /** Gives the lock up (idempotent): only a lock file that is still ours is deleted. */
  release(): void {
    if (this.released) return;
    this.released = true;
    clearInterval(this.heartbeat);
    heldHere.delete(this.path);
    try {
      if (readFileSync(this.path, 'utf8') === this.content) unlinkSync(this.path);
    } catch {
      // Gone already.
    }
  }
}
