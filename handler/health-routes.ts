// Liveness and readiness (DESIGN §5.1): /healthz says the process answers;
// /ready/healthz asks every backend and is 503 when one cannot serve;
// /metrics renders the counters (handler/metrics.ts) for Prometheus.
import { Router } from 'express';
import type { HandlerContext } from './context.ts';

export function healthRouter(ctx: HandlerContext): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  r.get('/ready/healthz', async (_req, res) => {
    const checks = await Promise.all([
      check('stream', () => ctx.stream.ping()),
      check('store', () => ctx.store.ping()),
    ]);
    const failed = checks.filter((c) => !c.ok);
    if (ctx.shutdown.aborted) failed.push({ name: 'server', ok: false, error: 'shutting down' });
    if (failed.length === 0) {
      res.status(200).json({ status: 'ok', checks });
      return;
    }
    res.status(503).json({
      error_msg: `not ready: ${failed.map((c) => `${c.name}: ${c.error}`).join('; ')}`,
      code: 'LOGSVC_BACKEND_UNAVAILABLE',
      checks,
    });
  });
  return r;
}

async function check(name: string, ping: () => Promise<void>): Promise<{ name: string; ok: boolean; error?: string }> {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out after 2 s')), 2000).unref());
  try {
    await Promise.race([ping(), timeout]);
    return { name, ok: true };
  } catch (err) {
    return { name, ok: false, error: (err as Error).message };
  }
}

/** GET /metrics: open when auth is off; with auth on it needs the global token (a Bearer token for Prometheus). */
export function metricsRouter(ctx: HandlerContext): Router {
  const r = Router();
  r.get('/metrics', (req, res) => {
    const grant = ctx.auth.identify(req);
    if (!grant.global) ctx.auth.authorize(grant, grant.account ?? '', 'admin');
    res.status(200).type('text/plain; version=0.0.4').send(ctx.metrics.render(ctx.tails.total()));
  });
  return r;
}
