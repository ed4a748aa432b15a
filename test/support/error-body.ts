// The error body every route answers with (docs/PROTOCOL.md §9.1), checked the
// way Harness's Go client reads it: it decodes the body with encoding/json into
//
//   type Error struct {
//     Code    int    `json:"code"`
//     Message string `json:"error_msg"`
//   }
//
// and a value of the wrong type for either field fails that decode (a string
// `code` used to, and the caller got an empty message).
import assert from 'node:assert/strict';

/** The fields of Harness's Go error type, with the JSON type each must have. */
const GO_ERROR_FIELDS = { code: 'int', error_msg: 'string' } as const;

/**
 * What Go's json.Unmarshal into the Error struct above makes of `text`, or the
 * error it returns. Like encoding/json, it matches keys to field tags without
 * regard to case, takes the last of duplicate keys, accepts null for any field,
 * and wants an integral number in int64 range for an int.
 */
export function goDecodeError(text: string): { ok: true; code: number; message: string } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, error: 'cannot unmarshal a non-object into Go value of type Error' };
  let code = 0;
  let message = '';
  for (const [key, v] of Object.entries(value)) {
    const field = (Object.keys(GO_ERROR_FIELDS) as (keyof typeof GO_ERROR_FIELDS)[]).find((f) => f.toLowerCase() === key.toLowerCase());
    if (field === undefined || v === null) continue;
    if (GO_ERROR_FIELDS[field] === 'int') {
      if (typeof v !== 'number' || !Number.isSafeInteger(v))
        return { ok: false, error: `cannot unmarshal ${JSON.stringify(v)} into Go struct field Error.${key} of type int` };
      code = v;
    } else {
      if (typeof v !== 'string') return { ok: false, error: `cannot unmarshal ${JSON.stringify(v)} into Go struct field Error.${key} of type string` };
      message = v;
    }
  }
  return { ok: true, code, message };
}

/**
 * Asserts that `text` is the service's error body — `error_msg` a non-empty
 * string, `error_code` a catalogue code, no `code` field — and that Harness's Go
 * client decodes it, with the message. Returns the code.
 */
export function assertErrorBody(text: string, context: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`${context}: the error body is not JSON: ${text.slice(0, 200)}`);
  }
  assert.ok(typeof body === 'object' && body !== null && !Array.isArray(body), `${context}: the error body is not a JSON object: ${text.slice(0, 200)}`);
  const fields = body as Record<string, unknown>;
  assert.equal(typeof fields.error_msg, 'string', `${context}: error_msg is not a string: ${text}`);
  assert.ok((fields.error_msg as string).length > 0, `${context}: empty error_msg: ${text}`);
  assert.equal(typeof fields.error_code, 'string', `${context}: error_code is not a string: ${text}`);
  assert.match(fields.error_code as string, /^LOGSVC_[A-Z_]+$/, `${context}: error_code is no catalogue code: ${text}`);
  const named = Object.keys(fields).filter((k) => k.toLowerCase() === 'code');
  assert.deepEqual(named, [], `${context}: the error body has a \`code\` field, which Harness's Go client decodes as an int: ${text}`);
  const go = goDecodeError(text);
  assert.ok(go.ok, `${context}: Harness's Go client cannot decode the error body (${go.ok ? '' : go.error}): ${text}`);
  assert.equal(go.message, fields.error_msg, `${context}: the Go client would not see the message`);
  return fields.error_code as string;
}
