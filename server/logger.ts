// Structured logs (pino). Tokens never reach a log line: they are redacted in
// URLs and headers before anything is written.
import { pino, type Logger } from 'pino';
import type { Config } from './config.ts';

export function createLogger(level: Config['logLevel']): Logger {
  return pino({
    level,
    base: { service: 'log-service' },
    redact: { paths: ['req.headers["x-harness-token"]', 'req.headers.authorization', 'token'], censor: '[redacted]' },
  });
}

/** The URL with secrets in its query (token, sig) replaced, for logs. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|sig)=)[^&]*/gi, '$1[redacted]');
}
