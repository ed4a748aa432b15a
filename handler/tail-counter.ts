// Open tails per account, bounded (429 LOGSVC_TOO_MANY_TAILS beyond the limit).
import { ServiceError } from '../foundation/errors.ts';

export class TailCounter {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerAccount: number) {}

  /**
   * Counts a new tail; `release` uncounts it, once. (No closure to give back:
   * a tail session holds the account and calls `release`, one object fewer
   * per idle tail.)
   */
  acquire(account: string): void {
    const n = this.open.get(account) ?? 0;
    if (n >= this.maxPerAccount) {
      throw new ServiceError('LOGSVC_TOO_MANY_TAILS', `account "${account}" already has ${n} open tails (limit ${this.maxPerAccount})`);
    }
    this.open.set(account, n + 1);
  }

  release(account: string): void {
    const left = (this.open.get(account) ?? 1) - 1;
    if (left <= 0) this.open.delete(account);
    else this.open.set(account, left);
  }

  total(): number {
    let sum = 0;
    for (const n of this.open.values()) sum += n;
    return sum;
  }
}
