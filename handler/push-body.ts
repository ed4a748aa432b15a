// Push bodies (docs/PROTOCOL.md §4): a JSON array of lines, NDJSON, or plain text.
// The whole body is read first, bounded by the push limit, so a bad line
// rejects the push as a whole: nothing is half-appended.
import type { IncomingMessage } from 'node:http';
import { ServiceError } from '../foundation/errors.ts';
import type { LineInput } from '../stream/log-stream.ts';

/**
 * The whole body, at most `maxBytes`, within `timeoutMs` (slow-client
 * protection). On refusal the socket is left open so the error response can
 * still be sent (with Connection: close).
 */
export function readBody(req: IncomingMessage, maxBytes: number, timeoutMs = 60_000): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) return Promise.reject(tooLarge(maxBytes));
  return new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    let total = 0;
    const finish = (err: Error | undefined) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) {
        req.pause();
        reject(err);
      } else {
        resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts, total));
      }
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) finish(tooLarge(maxBytes));
      else parts.push(chunk);
    };
    const onEnd = () => finish(undefined);
    const onError = (err: Error) => finish(err);
    const onClose = () => finish(new ServiceError('LOGSVC_BAD_REQUEST', 'the request body was cut off'));
    const timer = setTimeout(() => finish(new ServiceError('LOGSVC_REQUEST_TIMEOUT', `the body did not arrive within ${timeoutMs / 1000} s`)), timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function tooLarge(maxBytes: number): ServiceError {
  return new ServiceError('LOGSVC_BODY_TOO_LARGE', `the push body is over ${maxBytes} bytes: send the lines in smaller batches`);
}

export function parsePushBody(body: Buffer, contentType: string | undefined): LineInput[] {
  const type = (contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type === '') return parseJsonBody(body.toString('utf8'));
  if (type === 'application/x-ndjson' || type === 'application/jsonl' || type === 'application/x-jsonlines') {
    return parseNdjson(body.toString('utf8'));
  }
  if (type === 'text/plain') return parseText(body.toString('utf8'));
  throw new ServiceError('LOGSVC_UNSUPPORTED_MEDIA_TYPE',
    `Content-Type "${type}" is not supported: use application/json (array of lines), application/x-ndjson or text/plain`);
}

function parseJsonBody(text: string): LineInput[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ServiceError('LOGSVC_INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`);
  }
  const items = Array.isArray(value) ? value : [value];
  return items.map(checkLine);
}

function parseNdjson(text: string): LineInput[] {
  const lines: LineInput[] = [];
  let start = 0;
  let number = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const row = text.slice(start, end).trim();
    start = end + 1;
    number++;
    if (row === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(row);
    } catch (err) {
      throw new ServiceError('LOGSVC_INVALID_JSON', `NDJSON row ${number} is not valid JSON: ${(err as Error).message}`);
    }
    lines.push(checkLine(value, lines.length));
  }
  return lines;
}

/** Each text line becomes one `info` line that keeps its newline. */
export function parseText(text: string): LineInput[] {
  const lines: LineInput[] = [];
  let start = 0;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    if (end === -1) {
      lines.push({ out: text.slice(start) });
      break;
    }
    lines.push({ out: text.slice(start, end + 1) });
    start = end + 1;
  }
  return lines;
}

/** `args` are metadata, not log text: kept small so one line cannot carry megabytes. */
const MAX_ARGS_CHARS = 16 * 1024;

function badLine(index: number, why: string): ServiceError {
  return new ServiceError('LOGSVC_INVALID_LINE', `line ${index}: ${why}`);
}

// Called once per pushed line: no closures or throwaway objects on the way.
function checkLine(value: unknown, index: number): LineInput {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badLine(index, 'expected an object like {"out": "text\\n"}');
  const v = value as Record<string, unknown>;
  if (typeof v.out !== 'string') throw badLine(index, '"out" must be a string');
  const line: LineInput = { out: v.out };
  if (v.level !== undefined) {
    if (typeof v.level !== 'string' || v.level.length > 32) throw badLine(index, '"level" must be a string of at most 32 characters');
    line.level = v.level;
  }
  if (v.pos !== undefined) {
    if (typeof v.pos !== 'number' || !Number.isSafeInteger(v.pos) || v.pos < 0) throw badLine(index, '"pos" must be a non-negative integer');
    line.pos = v.pos;
  }
  if (v.time !== undefined) {
    if (typeof v.time !== 'string' || v.time.length > 64 || !isRfc3339(v.time)) throw badLine(index, '"time" must be an RFC 3339 timestamp');
    line.time = v.time;
  }
  if (v.args !== undefined && v.args !== null) {
    if (typeof v.args !== 'object' || Array.isArray(v.args)) throw badLine(index, '"args" must be an object');
    let encoded: string | undefined;
    try {
      encoded = JSON.stringify(v.args);
    } catch {
      throw badLine(index, '"args" is nested too deeply');
    }
    if (encoded.length > MAX_ARGS_CHARS) throw badLine(index, `"args" is over ${MAX_ARGS_CHARS} characters of JSON`);
    line.args = v.args as Record<string, unknown>;
  }
  return line;
}

/** RFC 3339 §5.6 date-time: full-date "T" full-time, with a real calendar day. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function isRfc3339(text: string): boolean {
  const m = RFC3339.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return false;
  // Date.UTC rolls an impossible day (Feb 30) over into the next month.
  return new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day && day >= 1;
}
