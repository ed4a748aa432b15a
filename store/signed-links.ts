// Links to this service that work without a token until they expire
// (docs/PROTOCOL.md §8.4, docs/SECURITY.md), for stores that cannot presign (LMDB). The signature covers the
// method, account, key and expiry; anything changed, or a late use, is 403.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ServiceError } from '../foundation/errors.ts';

export type SignedMethod = 'GET' | 'PUT' | 'ZIP';

export interface SignedTarget {
  method: SignedMethod;
  accountID: string;
  key: string;
  /** Unix seconds. */
  expires: number;
}

export class SignedLinks {
  private readonly secret: Buffer;

  /** Without a configured secret links are signed with a random one and die with the process. */
  constructor(
    secret: string | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.secret = secret !== undefined ? Buffer.from(`signed-links\0${secret}`) : randomBytes(32);
  }

  /** Query string for a link: method, account, key, expiry and signature. */
  sign(target: SignedTarget): string {
    const q = new URLSearchParams({
      method: target.method,
      accountID: target.accountID,
      key: target.key,
      expires: String(target.expires),
      sig: this.signature(target),
    });
    return q.toString();
  }

  verify(query: URLSearchParams, method: SignedMethod): SignedTarget {
    const accountID = query.get('accountID');
    const key = query.get('key');
    const expires = Number(query.get('expires'));
    const sig = query.get('sig') ?? '';
    if (accountID === null || key === null || !Number.isSafeInteger(expires) || query.get('method') !== method) {
      throw new ServiceError('LOGSVC_LINK_INVALID', 'the link is incomplete or for another method');
    }
    const target: SignedTarget = { method, accountID, key, expires };
    const expected = Buffer.from(this.signature(target));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new ServiceError('LOGSVC_LINK_INVALID');
    if (expires * 1000 <= this.now()) throw new ServiceError('LOGSVC_LINK_EXPIRED');
    return target;
  }

  private signature(t: SignedTarget): string {
    return createHmac('sha256', this.secret).update(`${t.method}\n${t.accountID}\n${t.key}\n${t.expires}`).digest('base64url');
  }
}
