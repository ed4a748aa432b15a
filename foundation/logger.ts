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

/** Query names that carry a secret, lower-cased: `?X-Harness-Token=` is Harness's name for `?token=`. */
const SECRET_PARAMS = new Set(['token', 'x-harness-token', 'sig']);

/**
 * The URL with secrets in its query (token, X-Harness-Token, sig) replaced, for logs. Names are
 * compared as the query parser reads them (percent-decoded, "+" as space), so
 * "?%74oken=…" is redacted too; everything else is kept as it was sent.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((part, i) => {
      const eq = part.indexOf('=');
      const rawName = eq === -1 ? part : part.slice(0, eq);
      // URLSearchParams drops one leading "?" of the query, so "??token=" is read as "token=".
      const name = decodeName(i === 0 && rawName.startsWith('?') ? rawName.slice(1) : rawName);
      return looksSecret(name) ? `${rawName}=[redacted]` : part;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

/**
 * A secret's name, or a near miss a client may still have meant as one and a
 * framework may read as one: encoded twice (`%2574oken`), with spaces
 * (`token%20`) or brackets (`token[]`), in any case.
 */
function looksSecret(name: string): boolean {
  let n = name;
  for (let i = 0; i < 3 && n.includes('%'); i++) n = decodeName(n);
  n = n
    .trim()
    .replace(/(\[[^\]]*\])+$/, '')
    .trim()
    .toLowerCase();
  return SECRET_PARAMS.has(n);
}

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw; // malformed escapes: URLSearchParams keeps them as they are too
  }
}
