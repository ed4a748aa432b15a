// POST /blob/download?accountID=&prefix= (docs/PROTOCOL.md §2.1, Harness-compatible): the
// zip of every blob under a prefix is written into the blob store in the
// background, and the caller polls the same route for
// {"link", "status", "expires"} until the status is "success" (then the link
// downloads the zip) or "failed".
//
// Status lives in this process (a bounded map). Behind a load balancer a poll
// may reach another instance: that one finds the zip object once it exists
// and is recent (reuseSeconds), and otherwise builds it again — duplicate
// work, never a wrong answer, since both write the same complete object.
import { createHash } from 'node:crypto';
import { isServiceError, ServiceError } from '../foundation/errors.ts';
import type { BlobStore } from './blob-store.ts';
import { zipBlobs, zipEntries } from './zip-archive.ts';

export type ZipExportState = 'queued' | 'in_progress' | 'success' | 'failed';

export interface ZipExportStatus {
  /** GET link of the zip object; valid (and stable) from the first answer, usable once "success". */
  link: string;
  status: ZipExportState;
  /**
   * When the link expires, as an RFC 3339 time: Harness's zip answer carries a
   * time here (its clients decode a time.Time), unlike the link routes' lifetime.
   */
  expires: string;
  /** Why it failed. */
  message?: string;
  /**
   * The catalogue code of the failure (e.g. LOGSVC_BACKEND_UNAVAILABLE). Named as in
   * the error body (docs/PROTOCOL.md §9.1): Harness's Go clients decode `code` as an int.
   */
  error_code?: string;
}

export interface ZipExportsOptions {
  maxEntries: number;
  linkExpirySeconds: number;
  /** Signs a download link for a blob name; defaults to store.presign(name, 'GET', …). */
  link?: (name: string, expiresInSeconds: number) => Promise<string>;
  /** Zips built at the same time; further requests wait as "queued". Default 2. */
  maxConcurrent?: number;
  /** Exports remembered at once. Default 1000. */
  maxTracked?: number;
  /** A finished zip younger than this is handed out again instead of being rebuilt. Default 300. */
  reuseSeconds?: number;
}

interface Job {
  name: string;
  accountID: string;
  /** Relative to the account, as the caller named it. */
  prefix: string;
  state: ZipExportState;
  finishedAt?: number;
  message?: string;
  code?: string;
}

/**
 * Zip objects live under "~zip/<account>/": "~zip" is no valid account, so
 * they never mix with an account's blobs, and one lifecycle rule on the "~zip/"
 * prefix expires them all (docker-compose.minio.yml sets one).
 */
const ZIP_DIR = '~zip/';

export class ZipExports {
  private readonly jobs = new Map<string, Job>();
  private readonly waiting: Job[] = [];
  private running = 0;
  private readonly building = new Set<Promise<void>>();
  private closed = false;
  private readonly link: (name: string, expiresInSeconds: number) => Promise<string>;

  constructor(
    private readonly store: BlobStore,
    private readonly options: ZipExportsOptions,
  ) {
    const presign = store.presign?.bind(store);
    const link = options.link ?? (presign && ((name: string, seconds: number) => presign(name, 'GET', seconds)));
    if (link === undefined) throw new Error('ZipExports needs a store that presigns links, or options.link');
    this.link = link;
  }

  /** The blob name the zip of `prefix` (relative to the account) is stored under. */
  static zipName(accountID: string, prefix: string): string {
    return `${ZIP_DIR}${accountID}/${createHash('sha256').update(prefix).digest('hex')}.zip`;
  }

  /** Starts the export of `<accountID>/<prefix>` unless one is under way or recent, and reports on it. */
  async request(accountID: string, prefix: string): Promise<ZipExportStatus> {
    const name = ZipExports.zipName(accountID, prefix);
    let job = this.jobs.get(name);
    if (job !== undefined && (job.state === 'failed' || this.stale(job.finishedAt))) {
      // A failure is reported once; the next request starts over.
      this.jobs.delete(name);
      if (job.state === 'failed') return this.report(job);
      job = undefined;
    }
    if (job === undefined) {
      const existing = await this.store.head(name);
      const createdAt = existing === null ? undefined : Date.parse(existing.created);
      const fresh = createdAt !== undefined && !this.stale(createdAt);
      // Nothing to zip, or too much: answered now with its 404 / 413, as the LMDB route answers,
      // rather than as a "failed" status found on a later poll. The build lists again: a queued
      // job holds no names (up to maxEntries each), and zips what is there when it runs.
      if (!fresh) await zipEntries(this.store, `${accountID}/${prefix}`, { maxEntries: this.options.maxEntries, label: prefix });
      const raced = this.jobs.get(name);
      if (raced !== undefined) return this.report(raced);
      job = fresh ? { name, accountID, prefix, state: 'success', finishedAt: createdAt } : { name, accountID, prefix, state: 'queued' };
      this.track(job);
      if (job.state === 'queued') {
        this.waiting.push(job);
        // Built after this request has answered "queued".
        setImmediate(() => this.pump());
      }
    }
    return this.report(job);
  }

  private stale(finishedAt: number | undefined): boolean {
    return finishedAt !== undefined && Date.now() - finishedAt > (this.options.reuseSeconds ?? 300) * 1000;
  }

  private async report(job: Job): Promise<ZipExportStatus> {
    // The state as of this request, whatever the build does while the link is signed.
    const { state, message, code } = job;
    const seconds = this.options.linkExpirySeconds;
    const expires = new Date(Date.now() + seconds * 1000).toISOString();
    const status: ZipExportStatus = { link: await this.link(job.name, seconds), status: state, expires };
    if (message !== undefined) status.message = message;
    if (code !== undefined) status.error_code = code;
    return status;
  }

  private track(job: Job): void {
    if (this.jobs.size >= (this.options.maxTracked ?? 1000)) {
      const finished = [...this.jobs.values()].find((j) => j.state === 'success' || j.state === 'failed');
      if (finished === undefined) {
        throw new ServiceError('LOGSVC_BACKEND_UNAVAILABLE', 'too many zip exports in progress; retry later');
      }
      this.jobs.delete(finished.name);
    }
    this.jobs.set(job.name, job);
  }

  /**
   * Shutdown: queued exports fail (a later request on any instance starts
   * over), and the zips being written finish before the store closes under them.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) {
      job.state = 'failed';
      job.message = 'the server stopped before this export started; request it again';
      job.finishedAt = Date.now();
    }
    await Promise.allSettled([...this.building]);
  }

  private pump(): void {
    while (!this.closed && this.running < (this.options.maxConcurrent ?? 2)) {
      const job = this.waiting.shift();
      if (job === undefined) return;
      this.running++;
      const built: Promise<void> = this.build(job).finally(() => {
        this.running--;
        this.building.delete(built);
        this.pump();
      });
      this.building.add(built);
    }
  }

  private async build(job: Job): Promise<void> {
    job.state = 'in_progress';
    try {
      const zip = await zipBlobs(this.store, `${job.accountID}/${job.prefix}`, { maxEntries: this.options.maxEntries, label: job.prefix });
      await this.store.put(job.name, zip, { contentType: 'application/zip' });
      job.state = 'success';
    } catch (err) {
      job.state = 'failed';
      job.message = err instanceof Error ? err.message : String(err);
      if (isServiceError(err)) job.code = err.code;
    }
    job.finishedAt = Date.now();
  }
}
