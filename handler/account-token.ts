// Account tokens in the Harness log-service format, so tokens minted by
// Harness with the same secret work here and vice versa:
//   base64url-with-padding( exp:uint32be || accountID || sig )
//   sig = HMAC-SHA256(key = HMAC-SHA256(key = secret, msg = exp||accountID), msg = exp||accountID)
import { createHmac, timingSafeEqual } from 'node:crypto';

const SIG_BYTES = 32;

export function mintAccountToken(secret: string, accountID: string, expiresAtSeconds: number): string {
  const payload = Buffer.concat([uint32(expiresAtSeconds), Buffer.from(accountID, 'utf8')]);
  return Buffer.concat([payload, sign(secret, payload)]).toString('base64url') + padding(payload.length + SIG_BYTES);
}

export type TokenCheck =
  | { ok: true; accountID: string; expiresAtSeconds: number }
  | { ok: false; reason: 'malformed' | 'signature' | 'expired' };

export function verifyAccountToken(secret: string, token: string, nowSeconds: number): TokenCheck {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(token)) return { ok: false, reason: 'malformed' };
  const raw = Buffer.from(token.replace(/=+$/, ''), 'base64url');
  if (raw.length <= 4 + SIG_BYTES) return { ok: false, reason: 'malformed' };
  const payload = raw.subarray(0, raw.length - SIG_BYTES);
  const given = raw.subarray(raw.length - SIG_BYTES);
  if (!timingSafeEqual(given, sign(secret, payload))) return { ok: false, reason: 'signature' };
  const expiresAtSeconds = payload.readUInt32BE(0);
  if (expiresAtSeconds <= nowSeconds) return { ok: false, reason: 'expired' };
  return { ok: true, accountID: payload.subarray(4).toString('utf8'), expiresAtSeconds };
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
