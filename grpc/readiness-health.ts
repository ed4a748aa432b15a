// grpc.health.v1.Health (the standard health service) following the same
// checks as GET /ready/healthz: every backend answers, and the server is not
// stopping. Load balancers and Kubernetes gRPC probes read it; Watch callers
// are told when it changes. The backends are pinged on a timer rather than per
// Check, so a probe storm costs nothing and Watch has something to watch.
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { Server } from '@grpc/grpc-js';
import type { HandlerContext } from '../handler/context.ts';

/** How often the backends are pinged; a ping that takes longer than this counts as failed. */
const HEALTH_CHECK_INTERVAL_MS = 1000;

export class ReadinessHealth {
  private readonly health: HealthImplementation;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private stopped = false;

  /** `services`: the fully qualified names reported besides "" (the whole server). */
  constructor(
    private readonly ctx: HandlerContext,
    private readonly services: readonly string[],
  ) {
    this.health = new HealthImplementation(Object.fromEntries(['', ...services].map((s) => [s, 'UNKNOWN' as ServingStatus])));
  }

  addToServer(server: Server): void {
    this.health.addToServer(server);
  }

  /** First check now (awaited, so the server starts with a true status), then every interval. */
  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), HEALTH_CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  /** NOT_SERVING from now on (the server stops). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.set('NOT_SERVING');
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const ready = !this.ctx.shutdown.aborted && (await answers(() => this.ctx.stream.ping())) && (await answers(() => this.ctx.store.ping()));
      // A check still running when the server stopped must not say SERVING again.
      if (!this.stopped) this.set(ready ? 'SERVING' : 'NOT_SERVING');
    } finally {
      this.checking = false;
    }
  }

  private set(status: ServingStatus): void {
    for (const service of ['', ...this.services]) this.health.setStatus(service, status);
  }
}

async function answers(ping: () => Promise<void>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), HEALTH_CHECK_INTERVAL_MS);
  });
  try {
    return await Promise.race([ping().then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
