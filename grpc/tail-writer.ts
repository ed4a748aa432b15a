// A tail as gRPC messages (proto/logservice/v1/log_streams.proto, Tail): one
// more TailWriter of the shared follow loop (handler/tail/follow.ts), so the
// history/live/end order, the pings, the lifetime and the backpressure rules
// are the SSE tail's. Each batch becomes one `Lines` message; a gap is said
// as `Dropped`, a reset stream as `Restart`; the end is `End` and status OK.
import type { ServerWritableStream } from '@grpc/grpc-js';
import { ServiceError } from '../foundation/errors.ts';
import type { TailWriter } from '../handler/tail/follow.ts';
import type { MessageSink } from '../handler/tail/message-sink.ts';
import type { DroppedRange, StoredLine } from '../stream/log-stream.ts';
import { logLine, type LogLineMessage, type TailRequest, type TailResponse } from './messages.ts';
import { endWithError } from './status-mapping.ts';

export class GrpcTailWriter implements TailWriter {
  /** The last seq sent, for the resume hint of an UNAVAILABLE end. */
  private lastSeq: number | undefined;
  private finished = false;

  constructor(
    private readonly sink: MessageSink<TailResponse>,
    private readonly call: ServerWritableStream<TailRequest, TailResponse>,
  ) {}

  get closed(): boolean {
    return this.finished || this.sink.closed;
  }

  lines(lines: readonly StoredLine[]): Promise<void> {
    const out = new Array<LogLineMessage>(lines.length);
    for (let i = 0; i < lines.length; i++) out[i] = logLine(lines[i]!);
    return this.batch(out);
  }

  /** Lines already decoded (a snapshot's rows). */
  batch(lines: LogLineMessage[]): Promise<void> {
    if (lines.length > 0) this.lastSeq = lines[lines.length - 1]!.seq;
    return this.sink.write({ lines: { lines } });
  }

  async dropped(range: DroppedRange): Promise<'continue'> {
    await this.sink.write({ dropped: { from: range.from, to: range.to } });
    return 'continue';
  }

  async restart(from: number): Promise<'continue'> {
    await this.sink.write({ restart: { from } });
    return 'continue';
  }

  ping(): Promise<void> {
    return this.sink.write({ ping: {} });
  }

  async terminal(): Promise<void> {
    await this.sink.write({ end: {} });
    this.finish();
  }

  async lifetime(): Promise<void> {
    await this.sink.write({ reconnect: {} });
    this.finish();
  }

  /** The server stops: UNAVAILABLE, so clients retry (elsewhere) and resume from the last seq they got. */
  end(): void {
    this.failWith(new ServiceError('LOGSVC_SHUTTING_DOWN', `the server is shutting down: resume with from_seq=${this.lastSeq ?? 'unset'} on another instance`));
  }

  fail(): void {
    this.failWith(new ServiceError('LOGSVC_BACKEND_UNAVAILABLE', `the stream backend failed mid-tail: resume with from_seq=${this.lastSeq ?? 'unset'}`));
  }

  /** Ends the call with status OK (after End or Reconnect). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.call.writableEnded && !this.call.destroyed) this.call.end();
  }

  failWith(err: unknown, onUnknown?: (err: unknown) => void): void {
    if (this.finished) return;
    this.finished = true;
    endWithError(this.call, err, onUnknown);
  }
}
