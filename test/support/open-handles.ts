// Root hook plugin (.mocharc.json "require"): reports what keeps the test
// process alive after the last test. Mocha runs without `exit: true`, so a
// server, socket, child process, Redis client or timer that a test forgot to
// close makes `npm test` hang instead of ending; this names the culprit and
// fails the run. It only reports: it closes nothing and never exits the process.
//
// The report names each resource (addresses, pids, commands). Timers carry no
// such detail; run with LOG_SERVICE_TEST_TRACE_HANDLES=1 to record where every
// timer, socket, server and child process was created (slower, so opt-in).
import { createHook } from 'node:async_hooks';
import type { ChildProcess } from 'node:child_process';
import type { Server, Socket } from 'node:net';

/** How long the process may stay up after the last hook before it counts as held open. */
const GRACE_MS = 2000;

const TRACED = new Set(['Timeout', 'TCPWRAP', 'TCPSERVERWRAP', 'PIPEWRAP', 'PROCESSWRAP', 'TLSWRAP', 'UDPWRAP', 'FSEVENTWRAP', 'SIGNALWRAP']);
const origins = new Map<number, { type: string; resource: object; stack: string }>();
const tracer =
  process.env.LOG_SERVICE_TEST_TRACE_HANDLES === '1'
    ? createHook({
        init(asyncId, type, _trigger, resource: object) {
          if (!TRACED.has(type)) return;
          const holder: { stack?: string } = {};
          Error.captureStackTrace(holder);
          const frames = (holder.stack ?? '')
            .split('\n')
            .slice(1)
            .filter((l) => !l.includes('node:internal') && !l.includes('open-handles.ts'));
          origins.set(asyncId, { type, resource, stack: frames.slice(0, 10).join('\n') });
        },
        destroy(asyncId) {
          origins.delete(asyncId);
        },
      }).enable()
    : undefined;

function isRefed(resource: object): boolean {
  const r = resource as { hasRef?: () => boolean; _destroyed?: boolean };
  if (r._destroyed === true) return false;
  return typeof r.hasRef === 'function' ? r.hasRef() : true;
}

/** One line per handle that holds the event loop (sockets, servers, child processes). */
function describeHandles(): string[] {
  // Not a public API, but the only one that returns the handles themselves rather than their type names.
  const handles = (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles();
  const lines: string[] = [];
  for (const h of handles) {
    if (!isRefed(h)) continue;
    const name = h.constructor.name;
    if (name === 'ChildProcess') {
      const child = h as ChildProcess;
      lines.push(`child process ${child.pid}: ${child.spawnargs.slice(0, 4).join(' ')}`);
    } else if (name === 'Server') {
      lines.push(`server listening on ${JSON.stringify((h as Server).address())}`);
    } else if (name === 'Socket' || name === 'TLSSocket') {
      const s = h as Socket;
      // stdio are sockets too; they never hold the loop on their own
      if (s === (process.stdout as unknown) || s === (process.stderr as unknown) || s === (process.stdin as unknown)) continue;
      lines.push(
        s.remotePort === undefined ? `${name} (pipe or unconnected)` : `${name} ${s.localAddress}:${s.localPort} -> ${s.remoteAddress}:${s.remotePort}`,
      );
    } else {
      lines.push(name);
    }
  }
  return lines;
}

function report(): void {
  const lines = [
    `\nThe test process is still running ${GRACE_MS} ms after the last test: something was not closed.`,
    `Active resources: ${process.getActiveResourcesInfo().join(', ')}`,
    ...describeHandles().map((l) => `  ${l}`),
  ];
  if (tracer !== undefined) {
    tracer.disable();
    for (const [id, o] of origins) {
      if (!isRefed(o.resource)) continue;
      lines.push(`  ${o.type}#${id} created at:\n${o.stack}`);
    }
  } else {
    lines.push('Run with LOG_SERVICE_TEST_TRACE_HANDLES=1 to see where each one was created.');
  }
  console.error(lines.join('\n'));
  // Registered after mocha's own 'exit' listener (which sets the run's code), so this one has the last word.
  process.on('exit', () => {
    if (!process.exitCode) process.exitCode = 1;
  });
}

export const mochaHooks = {
  afterAll(): void {
    // Fires only if the process outlives the grace period (unref: it never holds the process itself).
    setTimeout(report, GRACE_MS).unref();
  },
};
