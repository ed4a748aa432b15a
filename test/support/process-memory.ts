// Resident memory of a process (Linux /proc), for tests that bound server memory.
import { readFileSync } from 'node:fs';

function statusMb(pid: number, field: 'VmRSS' | 'RssAnon'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

/** VmRSS of `pid` in MB. */
export function rssMb(pid: number): number {
  return statusMb(pid, 'VmRSS');
}

/**
 * RssAnon of `pid` in MB: the process's own memory, without file-backed pages
 * such as LMDB's memory map, which the kernel can reclaim and which grow with
 * every blob page read (BENCHMARKS.md, blob_download).
 */
export function rssAnonMb(pid: number): number {
  return statusMb(pid, 'RssAnon');
}
