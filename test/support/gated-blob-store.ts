// A real blob store (LMDB in the tests) whose chunk writes and listings a test
// can hold: every method is the wrapped store's, except that `putBytes` (what
// the live archive's chunk writes use, archive/chunk-archive.ts) and `list`
// (what the archive's index is read from) can be made to wait until the test
// lets them go. Nothing is faked: a held write reaches the store, unchanged,
// when it is released; a held listing answers what the store held when it was
// asked, or when it is released. That makes "the store is slow" (a write
// group held open, a listing that answers late) a state a test can set up and
// observe instead of a timing it hopes for.
import type { Readable } from 'node:stream';
import type { BlobListEntry, BlobMeta, BlobStore, ByteRange, PutOptions } from '../../store/blob-store.ts';

/** What a held listing answers: the store as it was when the listing was asked, or when it is released. */
export type ListView = 'asked' | 'released';

interface Held {
  name: string;
  release: () => void;
}

export class GatedBlobStore implements BlobStore {
  readonly kind: string;
  /** putBytes calls made so far, and those not answered yet (held or in the store). */
  putsAsked = 0;
  putsInFlight = 0;
  /** The prefix of every listing asked so far, in order. */
  readonly listed: string[] = [];
  private holdingPuts = false;
  private readonly heldPuts: Held[] = [];
  private listView: ListView | undefined;
  private listPrefix = '';
  private readonly heldLists: Held[] = [];
  private readonly watchers = new Set<() => void>();

  constructor(private readonly inner: BlobStore) {
    this.kind = inner.kind;
  }

  /** From now on putBytes calls wait (before they reach the store) until released. */
  holdPuts(): void {
    this.holdingPuts = true;
  }

  /** Lets every held write go, and the next ones straight through. */
  openPuts(): void {
    this.holdingPuts = false;
    this.releasePuts();
  }

  /** Lets the `count` oldest held writes reach the store; returns their blob names. */
  releasePuts(count = this.heldPuts.length): string[] {
    const released = this.heldPuts.splice(0, count);
    for (const put of released) put.release();
    return released.map((put) => put.name);
  }

  /** The blob names of the writes held now, oldest first. */
  get heldPutNames(): string[] {
    return this.heldPuts.map((put) => put.name);
  }

  /** From now on listings under `prefix` wait until released, then answer the store as it was at `view`. */
  holdLists(view: ListView, prefix = ''): void {
    this.listView = view;
    this.listPrefix = prefix;
  }

  openLists(): void {
    this.listView = undefined;
    this.releaseLists();
  }

  /** Lets every held listing answer; returns how many there were. */
  releaseLists(): number {
    const released = this.heldLists.splice(0);
    for (const list of released) list.release();
    return released.length;
  }

  get heldListCount(): number {
    return this.heldLists.length;
  }

  /**
   * Resolves once `test()` is true, checked each time a write or a listing is
   * held, reaches the store or answers; rejects after `ms` naming `what`.
   */
  until(what: string, test: () => boolean, ms = 5000): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!test()) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: not within ${ms} ms (writes held: ${this.heldPuts.length}, listings held: ${this.heldLists.length})`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.watchers.delete(check);
      };
      this.watchers.add(check);
    });
  }

  async putBytes(name: string, bytes: Buffer, options?: PutOptions): Promise<BlobMeta> {
    this.putsAsked++;
    this.putsInFlight++;
    try {
      if (this.holdingPuts) await this.hold(this.heldPuts, name);
      return await this.inner.putBytes(name, bytes, options);
    } finally {
      this.putsInFlight--;
      this.changed();
    }
  }

  async *list(prefix: string): AsyncIterable<BlobListEntry> {
    this.listed.push(prefix);
    const view = this.listView;
    if (view === undefined || !prefix.startsWith(this.listPrefix)) {
      yield* this.inner.list(prefix);
      return;
    }
    let asked: BlobListEntry[] | undefined;
    if (view === 'asked') {
      asked = [];
      for await (const entry of this.inner.list(prefix)) asked.push(entry);
    }
    await this.hold(this.heldLists, prefix);
    yield* asked ?? this.inner.list(prefix);
    this.changed();
  }

  put(name: string, body: Readable, options?: PutOptions): Promise<BlobMeta> {
    return this.inner.put(name, body, options);
  }

  head(name: string): Promise<BlobMeta | null> {
    return this.inner.head(name);
  }

  get(name: string, range?: ByteRange): Promise<{ meta: BlobMeta; body: Readable } | null> {
    return this.inner.get(name, range);
  }

  delete(name: string): Promise<boolean> {
    return this.inner.delete(name);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private hold(queue: Held[], name: string): Promise<void> {
    return new Promise<void>((release) => {
      queue.push({ name, release });
      this.changed();
    });
  }

  private changed(): void {
    for (const check of [...this.watchers]) check();
  }
}
