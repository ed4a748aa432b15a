// Resident memory of a process (Linux /proc), for tests that bound server memory.
import { readFileSync } from 'node:fs';

/** VmRSS of `pid` in MB. */
export function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}
