// Open tails per account, bounded (429 LOGSVC_TOO_MANY_TAILS beyond the limit).
import { ServiceError } from '../foundation/errors.ts';

export class TailCounter {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerAccount: number) {}

  /** Counts a new tail; returns the function that uncounts it. */
  acquire(account: string): () => void {
    const n = this.open.get(account) ?? 0;
    if (n >= this.maxPerAccount) {
      throw new ServiceError('LOGSVC_TOO_MANY_TAILS', `account "${account}" already has ${n} open tails (limit ${this.maxPerAccount})`);
    }
    this.open.set(account, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(account) ?? 1) - 1;
      if (left === 0) this.open.delete(account);
      else this.open.set(account, left);
    };
  }

  total(): number {
    let sum = 0;
    for (const n of this.open.values()) sum += n;
    return sum;
  }
}
