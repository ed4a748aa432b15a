// The messages of proto/logservice/v1/log_streams.proto as the server sees
// them (proto-loader objects with PROTO_OPTIONS: camelCase, numbers, unset
// fields absent), and the conversions between them and the stream's lines.
import { decodeLine } from '../stream/line-codec.ts';
import type { StoredLine } from '../stream/log-stream.ts';

interface Addressing {
  accountId?: string;
  key?: string;
}

export interface OpenRequest extends Addressing {
  timeoutSeconds?: number;
}

export interface CloseRequest extends Addressing {
  snapshot?: boolean;
}

export interface InfoRequest {
  accountId?: string;
  prefix?: string;
}

export interface LineMessage {
  level?: string;
  out?: string;
  time?: string;
  args?: Record<string, string>;
  pos?: number;
}

export interface PushRequest extends Addressing {
  lines?: LineMessage[];
  pushId?: string;
}

export interface PushAck {
  lastSeq: number;
  lines: number;
}

export interface TailRequest extends Addressing {
  fromSeq?: number | null;
  lastLines?: number | null;
}

export interface LogLineMessage {
  seq: number;
  level: string;
  out: string;
  time: string;
  args?: Record<string, string>;
  pos: number;
}

export type TailResponse =
  | { lines: { lines: LogLineMessage[] } }
  | { dropped: { from: number; to: number } }
  | { restart: { from: number } }
  | { end: Record<string, never> }
  | { reconnect: Record<string, never> }
  | { ping: Record<string, never> };

/**
 * A pushed line as the HTTP push parser's input (checked by checkLine after
 * this). proto3 does not send fields at their default, so the decoded object
 * holds only what the producer set: an empty string is "not given" (the
 * server's default level, its own time). Only `out` needs filling in. The
 * message object itself is used, not a copy: one object less per line.
 */
export function lineInput(message: LineMessage): LineMessage {
  if (message.out === undefined) message.out = '';
  return message;
}

/** Args pushed as JSON over HTTP may hold any value; the proto's map holds strings: others go as their JSON text. */
function stringArgs(args: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(args)) out[name] = typeof value === 'string' ? value : JSON.stringify(value);
  return out;
}

/** A line as a tail sends it, from its stored JSON (or a snapshot row's). */
export function logLineFromJson(seq: number, json: string): LogLineMessage {
  const line = JSON.parse(json) as { level?: string; out?: string; time?: string; pos?: number; args?: Record<string, unknown> | null };
  const message: LogLineMessage = { seq, level: line.level ?? '', out: line.out ?? '', time: line.time ?? '', pos: line.pos ?? 0 };
  if (line.args !== undefined && line.args !== null) message.args = stringArgs(line.args);
  return message;
}

export function logLine(stored: StoredLine): LogLineMessage {
  const line = decodeLine(stored);
  const message: LogLineMessage = { seq: stored.seq, level: line.level, out: line.out, time: line.time, pos: line.pos };
  if (line.args !== undefined && line.args !== null) message.args = stringArgs(line.args);
  return message;
}
