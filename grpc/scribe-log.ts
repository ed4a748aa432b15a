// go-scribe's Log (docs/SCRIBE.md §2): one line into the stream
// `<path>/<filename>` of the caller's account, opened on its first line. The
// answer comes after the line is stored (and, with file output on, written:
// scribe/scribe-tee.ts), where go-scribe answered before writing anything.
import type { Metadata } from '@grpc/grpc-js';
import { isServiceError } from '../foundation/errors.ts';
import { oneLine } from '../scribe/file-layout.ts';
import { keyInScope, type Grant } from '../handler/auth.ts';
import type { HandlerContext } from '../handler/context.ts';
import { internalName } from '../handler/keys.ts';
import { callAccount, identify } from './call-auth.ts';
import { scribeKey } from './scribe-key.ts';

export interface LogRequest {
  filename?: string;
  path?: string;
  line?: string;
}

/** Streams remembered for GetScribesResponsibility; the oldest are forgotten first. */
const MAX_REMEMBERED = 10_000;

export class ScribeLog {
  /** Streams this instance wrote through Log, least recently written first. */
  private readonly written = new Set<string>();

  constructor(private readonly ctx: HandlerContext) {}

  async log(metadata: Metadata, request: LogRequest): Promise<void> {
    const grant = identify(this.ctx, metadata);
    const account = callAccount(grant, undefined);
    // The key is checked before the grant's scope, so a bad name is INVALID_ARGUMENT whoever asks.
    const key = scribeKey(request.path, request.filename);
    this.ctx.auth.authorize(grant, account, 'write', key);
    const name = internalName(account, key);
    await this.push(name, oneLine(request.line ?? ''));
    this.remember(this.written, name);
  }

  /** The keys of `account` this instance wrote through Log (within the grant's scope), sorted. */
  responsibility(grant: Grant, account: string): string[] {
    const prefix = `${account}/`;
    const keys: string[] = [];
    for (const name of this.written) {
      if (!name.startsWith(prefix)) continue;
      const key = name.slice(prefix.length);
      if (grant.scope === undefined || keyInScope(key, grant.scope.keyPrefix)) keys.push(key);
    }
    return keys.sort();
  }

  /**
   * Pushes, opening the stream when it is not open (first line, expired, or
   * closed over HTTP). The open keeps a stream that is already open, so
   * concurrent first lines, on this instance or another one sharing Redis,
   * never empty a stream another call has just written to.
   */
  private async push(name: string, out: string): Promise<void> {
    try {
      await this.ctx.stream.push(name, [{ out }]);
      return;
    } catch (err) {
      if (!isServiceError(err) || err.code !== 'LOGSVC_STREAM_NOT_FOUND') throw err;
    }
    await this.ctx.stream.open(name, { keepOpen: true });
    await this.ctx.stream.push(name, [{ out }]);
  }

  private remember(set: Set<string>, name: string): void {
    set.delete(name);
    set.add(name);
    if (set.size > MAX_REMEMBERED) set.delete(set.values().next().value!);
  }
}
