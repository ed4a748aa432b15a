// Account tokens in the Harness log-service format, so tokens minted by
// Harness with the same secret work here and vice versa:
//   base64url-with-padding( exp:uint32be || accountID || sig )
//   sig = HMAC-SHA256(key = HMAC-SHA256(key = secret, msg = exp||accountID), msg = exp||accountID)
// Scoped tokens (our extension) put a scope after the account, separated by a
// NUL byte that no valid accountID contains:
//   exp || accountID || 0x00 || access ('r' | 'w') || keyPrefix
// signed the same way; a Harness server reads them as an unknown account.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isAccountId } from './keys.ts';

const SIG_BYTES = 32;

type ScopeAccess = 'read' | 'write';

export interface TokenScope {
  access: ScopeAccess;
  /** Keys this token opens: the prefix itself and keys under it. */
  keyPrefix: string;
}

export interface TokenClaims {
  accountID: string;
  expiresAtSeconds: number;
  scope?: TokenScope;
}

export function mintAccountToken(secret: string, claims: TokenClaims): string {
  const parts = [uint32(claims.expiresAtSeconds), Buffer.from(claims.accountID, 'utf8')];
  if (claims.scope !== undefined) {
    parts.push(Buffer.from([0, claims.scope.access === 'read' ? 0x72 : 0x77]), Buffer.from(claims.scope.keyPrefix, 'utf8'));
  }
  const payload = Buffer.concat(parts);
  return Buffer.concat([payload, sign(secret, payload)]).toString('base64url') + padding(payload.length + SIG_BYTES);
}

export type TokenCheck = ({ ok: true } & TokenClaims) | { ok: false; reason: 'malformed' | 'signature' | 'expired' };

export function verifyAccountToken(secret: string, token: string, nowSeconds: number): TokenCheck {
  if (token.length > 8192 || !/^[A-Za-z0-9_-]+={0,2}$/.test(token)) return { ok: false, reason: 'malformed' };
  const raw = Buffer.from(token.replace(/=+$/, ''), 'base64url');
  if (raw.length <= 4 + SIG_BYTES) return { ok: false, reason: 'malformed' };
  const payload = raw.subarray(0, raw.length - SIG_BYTES);
  const given = raw.subarray(raw.length - SIG_BYTES);
  if (!timingSafeEqual(given, sign(secret, payload))) return { ok: false, reason: 'signature' };
  const expiresAtSeconds = payload.readUInt32BE(0);
  if (expiresAtSeconds <= nowSeconds) return { ok: false, reason: 'expired' };
  const rest = payload.subarray(4);
  const nul = rest.indexOf(0);
  const accountID = (nul === -1 ? rest : rest.subarray(0, nul)).toString('utf8');
  // Signed is not the same as well-formed: an account such as "acct/p" (which a
  // Harness server could sign) would otherwise open acct's keys under p/.
  if (!isAccountId(accountID)) return { ok: false, reason: 'malformed' };
  if (nul === -1) return { ok: true, accountID, expiresAtSeconds };
  const access = rest[nul + 1];
  if (access !== 0x72 && access !== 0x77) return { ok: false, reason: 'malformed' };
  return {
    ok: true,
    accountID,
    expiresAtSeconds,
    scope: { access: access === 0x72 ? 'read' : 'write', keyPrefix: rest.subarray(nul + 2).toString('utf8') },
  };
}

function sign(secret: string, payload: Buffer): Buffer {
  const derived = createHmac('sha256', secret).update(payload).digest();
  return createHmac('sha256', derived).update(payload).digest();
}

function uint32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

function padding(byteLength: number): string {
  const rest = byteLength % 3;
  return rest === 0 ? '' : '='.repeat(3 - rest);
}
