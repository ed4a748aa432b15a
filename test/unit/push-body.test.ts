// Push bodies: reading them whole and parsing them into lines (handler/push-body.ts).
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { parsePushBody, readPush } from '../../handler/push-body.ts';

/** Plain text as lines, as a text/plain push reads it. */
const parseText = (text: string) => parsePushBody(Buffer.from(text, 'utf8'), 'text/plain');
import { ServiceError } from '../../foundation/errors.ts';

const parse = (body: string, type?: string) => parsePushBody(Buffer.from(body, 'utf8'), type);

/** Asserts that `fn` throws the ServiceError with this code, status and exact message. */
function assertServiceError(fn: () => unknown, code: string, status: number, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ServiceError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

const badLine = (body: string, message: string) => assertServiceError(() => parse(body), 'LOGSVC_INVALID_LINE', 400, message);

/** A request body stream with the headers readBody looks at. */
function request(headers: Record<string, string> = {}): PassThrough & IncomingMessage {
  return Object.assign(new PassThrough(), { headers }) as unknown as PassThrough & IncomingMessage;
}

function listeners(req: PassThrough): number {
  return ['data', 'end', 'error', 'close'].reduce((n, e) => n + req.listenerCount(e), 0);
}

describe('push bodies', () => {
  describe('content types', () => {
    it('reads JSON when there is no Content-Type, an empty one, or application/json with parameters in any case', () => {
      const body = '[{"out":"a\\n"}]';
      for (const type of [undefined, '', 'application/json', 'Application/JSON', 'application/json; charset=utf-8', ' application/json ;x=y']) {
        assert.deepEqual(parse(body, type), [{ out: 'a\n' }], String(type));
      }
    });

    it('reads NDJSON under application/x-ndjson, application/jsonl and application/x-jsonlines', () => {
      const body = '{"out":"a\\n"}\n{"out":"b\\n"}\n';
      for (const type of ['application/x-ndjson', 'application/jsonl', 'application/x-jsonlines', 'APPLICATION/X-NDJSON; charset=utf-8']) {
        assert.deepEqual(parse(body, type), [{ out: 'a\n' }, { out: 'b\n' }], type);
      }
    });

    it('reads text/plain (with a charset or not) as one line per text line', () => {
      assert.deepEqual(parse('a\nb\n', 'text/plain'), [{ out: 'a\n' }, { out: 'b\n' }]);
      assert.deepEqual(parse('a\nb\n', 'text/plain; charset=utf-8'), [{ out: 'a\n' }, { out: 'b\n' }]);
    });

    it('refuses any other type with 415 LOGSVC_UNSUPPORTED_MEDIA_TYPE naming the type it read', () => {
      const accepted = 'use application/json (array of lines), application/x-ndjson or text/plain';
      assertServiceError(
        () => parse('<x/>', 'application/xml'),
        'LOGSVC_UNSUPPORTED_MEDIA_TYPE',
        415,
        `Content-Type "application/xml" is not supported: ${accepted}`,
      );
      assertServiceError(
        () => parse('[]', 'Application/Vnd.API+JSON; charset=utf-8'),
        'LOGSVC_UNSUPPORTED_MEDIA_TYPE',
        415,
        `Content-Type "application/vnd.api+json" is not supported: ${accepted}`,
      );
      assertServiceError(() => parse('a', 'text/html'), 'LOGSVC_UNSUPPORTED_MEDIA_TYPE', 415, `Content-Type "text/html" is not supported: ${accepted}`);
    });
  });

  describe('JSON', () => {
    it('takes an array of lines in order', () => {
      assert.deepEqual(parse('[{"out":"1\\n"},{"out":"2\\n"},{"out":"3"}]'), [{ out: '1\n' }, { out: '2\n' }, { out: '3' }]);
    });

    it('takes a single line object as a push of one line', () => {
      assert.deepEqual(parse('{"out":"only\\n","level":"warn"}'), [{ out: 'only\n', level: 'warn' }]);
    });

    it('takes an empty array as a push of no lines', () => {
      assert.deepEqual(parse('[]'), []);
      assert.deepEqual(parse(' \n[ ]\n'), []);
    });

    it('refuses an empty body, like any other text that is not JSON, with 400 LOGSVC_INVALID_JSON', () => {
      assertServiceError(() => parse(''), 'LOGSVC_INVALID_JSON', 400, /^the body is not valid JSON: ./);
      assertServiceError(() => parse('[{"out": "x"'), 'LOGSVC_INVALID_JSON', 400, /^the body is not valid JSON: ./);
      assertServiceError(() => parse('{"out":"a"}\n{"out":"b"}'), 'LOGSVC_INVALID_JSON', 400, /^the body is not valid JSON: ./);
    });

    it("refuses array items that are not line objects, naming the item's 0-based index", () => {
      badLine('[{"out":"a"}, null]', 'line 1: expected an object like {"out": "text\\n"}');
      badLine('["text"]', 'line 0: expected an object like {"out": "text\\n"}');
      badLine('[{"out":"a"}, {"out":"b"}, [{"out":"c"}]]', 'line 2: expected an object like {"out": "text\\n"}');
      badLine('null', 'line 0: expected an object like {"out": "text\\n"}');
      badLine('42', 'line 0: expected an object like {"out": "text\\n"}');
    });
  });

  describe('NDJSON', () => {
    const nd = (body: string) => parse(body, 'application/x-ndjson');

    it('takes one line per row, with CRLF rows, blank rows and a last row without a newline', () => {
      assert.deepEqual(nd('{"out":"a\\n"}\r\n\r\n  \n{"out":"b\\n"}\n\t{"out":"c"}  '), [{ out: 'a\n' }, { out: 'b\n' }, { out: 'c' }]);
    });

    it('takes an empty or blank body as a push of no lines', () => {
      assert.deepEqual(nd(''), []);
      assert.deepEqual(nd('\n\r\n \n'), []);
    });

    it('refuses a row that is not JSON with 400 LOGSVC_INVALID_JSON, naming its 1-based row number (blank rows counted)', () => {
      assertServiceError(() => nd('{"out":"a"}\n\nnot json\n'), 'LOGSVC_INVALID_JSON', 400, /^NDJSON row 3 is not valid JSON: ./);
      assertServiceError(() => nd('{"out":"a"}{"out":"b"}'), 'LOGSVC_INVALID_JSON', 400, /^NDJSON row 1 is not valid JSON: ./);
    });

    it('refuses a row that is not a line object, naming the index among the lines (blank rows not counted)', () => {
      assertServiceError(() => nd('\n{"out":"a"}\n\n[{"out":"b"}]\n'), 'LOGSVC_INVALID_LINE', 400, 'line 1: expected an object like {"out": "text\\n"}');
      assertServiceError(() => nd('{"out":7}'), 'LOGSVC_INVALID_LINE', 400, 'line 0: "out" must be a string');
    });
  });

  describe('text/plain', () => {
    it('makes each text line one line that keeps its newline', () => {
      assert.deepEqual(parseText('one\ntwo\n'), [{ out: 'one\n' }, { out: 'two\n' }]);
    });

    it('keeps a final line without a newline as it is', () => {
      assert.deepEqual(parseText('one\ntwo'), [{ out: 'one\n' }, { out: 'two' }]);
    });

    it('keeps CR as part of the text: CRLF lines end in "\\r\\n" and a lone CR does not split', () => {
      assert.deepEqual(parseText('a\r\nb\rc\n'), [{ out: 'a\r\n' }, { out: 'b\rc\n' }]);
    });

    it('keeps empty lines as lines of their own', () => {
      assert.deepEqual(parseText('\n\nx\n'), [{ out: '\n' }, { out: '\n' }, { out: 'x\n' }]);
    });

    it('makes no lines of an empty body', () => {
      assert.deepEqual(parseText(''), []);
      assert.deepEqual(parse('', 'text/plain'), []);
    });

    it('adds no level, pos or time: those are filled in when the line is stored', () => {
      const [line] = parse('é中😀\n', 'text/plain');
      assert.deepEqual(Object.keys(line!), ['out']);
      assert.equal(line!.out, 'é中😀\n');
    });
  });

  describe('line fields', () => {
    it('keeps out, level, pos, time and args, and drops unknown fields', () => {
      const body = JSON.stringify([{ out: 'x\n', level: 'error', pos: 12, time: '2024-01-02T03:04:05.678Z', args: { a: 1 }, extra: 'dropped', seq: 9 }]);
      assert.deepEqual(parse(body), [{ out: 'x\n', level: 'error', pos: 12, time: '2024-01-02T03:04:05.678Z', args: { a: 1 } }]);
    });

    it('requires out to be a string (the empty string is one)', () => {
      assert.deepEqual(parse('[{"out":""}]'), [{ out: '' }]);
      badLine('[{}]', 'line 0: "out" must be a string');
      badLine('[{"out":null}]', 'line 0: "out" must be a string');
      badLine('[{"out":1}]', 'line 0: "out" must be a string');
      badLine('[{"out":["a"]}]', 'line 0: "out" must be a string');
    });

    it('accepts a level of up to 32 characters, and refuses a longer one or a non-string', () => {
      assert.deepEqual(parse(JSON.stringify([{ out: '', level: 'l'.repeat(32) }])), [{ out: '', level: 'l'.repeat(32) }]);
      badLine(JSON.stringify([{ out: '', level: 'l'.repeat(33) }]), 'line 0: "level" must be a string of at most 32 characters');
      badLine('[{"out":"","level":3}]', 'line 0: "level" must be a string of at most 32 characters');
    });

    it('accepts pos from 0 to Number.MAX_SAFE_INTEGER, and refuses negative, fractional, unsafe or non-number ones', () => {
      assert.deepEqual(parse('[{"out":"","pos":0}]'), [{ out: '', pos: 0 }]);
      assert.deepEqual(parse(`[{"out":"","pos":${Number.MAX_SAFE_INTEGER}}]`), [{ out: '', pos: Number.MAX_SAFE_INTEGER }]);
      for (const pos of ['-1', '1.5', '9007199254740992', '"3"', '1e400', 'true']) {
        badLine(`[{"out":"","pos":${pos}}]`, 'line 0: "pos" must be a non-negative integer');
      }
    });

    it('accepts an RFC 3339 time of up to 64 characters, and refuses words, longer strings and non-strings', () => {
      assert.deepEqual(parse('[{"out":"","time":"2024-01-02T03:04:05+02:00"}]'), [{ out: '', time: '2024-01-02T03:04:05+02:00' }]);
      const longest = `2024-01-01T00:00:00.${'0'.repeat(43)}Z`; // 64 characters
      assert.deepEqual(parse(JSON.stringify([{ out: '', time: longest }])), [{ out: '', time: longest }]);
      badLine(JSON.stringify([{ out: '', time: `${longest.slice(0, -1)}0Z` }]), 'line 0: "time" must be an RFC 3339 timestamp');
      badLine('[{"out":"","time":"yesterday"}]', 'line 0: "time" must be an RFC 3339 timestamp');
      badLine('[{"out":"","time":1704067200000}]', 'line 0: "time" must be an RFC 3339 timestamp');
    });

    // "time" is checked with Date.parse, which accepts far more than RFC 3339:
    // V8 reads "1" and "hello 1" as 2001-01-01, "0" as 2000, takes RFC 2822 dates and
    // "2024-02-30T00:00:00Z" (a day that does not exist). The string is then stored and
    // served verbatim as the line's `time`, so viewers that parse it as RFC 3339 (Go's
    // time.Time, the Harness clients) fail on that line. The error message says
    // RFC 3339; the check should be an RFC 3339 pattern (plus a valid date).
    it('refuses times that are not RFC 3339 even when Date.parse reads them', () => {
      for (const time of ['1', '0', 'hello 1', 'Tue, 02 Jan 2024 03:04:05 GMT', '2024-02-30T00:00:00Z']) {
        badLine(JSON.stringify([{ out: '', time }]), 'line 0: "time" must be an RFC 3339 timestamp');
      }
    });

    it('treats args null as absent, and refuses args that are not an object', () => {
      assert.deepEqual(parse('[{"out":"","args":null}]'), [{ out: '' }]);
      assert.deepEqual(parse('[{"out":"","args":{}}]'), [{ out: '', args: {} }]);
      for (const args of ['[]', '"s"', '1', 'true']) badLine(`[{"out":"","args":${args}}]`, 'line 0: "args" must be an object');
    });

    it('accepts args of up to 16384 characters of JSON and refuses more', () => {
      const fits = { a: 'x'.repeat(16384 - '{"a":""}'.length) };
      assert.equal(JSON.stringify(fits).length, 16384);
      assert.deepEqual(parse(JSON.stringify([{ out: '', args: fits }])), [{ out: '', args: fits }]);
      badLine(JSON.stringify([{ out: '', args: { a: `${fits.a}x` } }]), 'line 0: "args" is over 16384 characters of JSON');
    });

    it('refuses args nested too deeply to serialise, without crashing', () => {
      badLine(`[{"out":"x","args":{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}}]`, 'line 0: "args" is nested too deeply');
    });

    it('names the first bad line of a push', () => {
      badLine('[{"out":"ok"},{"out":"ok"},{"out":"ok","pos":-1},{"out":5}]', 'line 2: "pos" must be a non-negative integer');
    });
  });

  describe('readPush', () => {
    const limits = (maxPushBytes: number, timeoutMs = 60_000, keepLines = 1_000_000) => ({
      maxPushBytes,
      timeoutMs,
      keepLines,
      keepBytes: 1 << 30,
      maxLineBytes: 65536,
    });
    const text = (push: { lines: { out: string }[] }) => push.lines.map((l) => l.out).join('');

    it('resolves with every line of the body, however it was chunked (a character split between chunks too)', async () => {
      const req = request();
      const push = readPush(req, 'text/plain', limits(1000));
      req.write('hello ');
      const o = Buffer.from('wörld\n');
      req.write(o.subarray(0, 2));
      req.write(o.subarray(2));
      req.end('!');
      assert.deepEqual((await push).lines, [{ out: 'hello wörld\n' }, { out: '!' }]);
      assert.equal(listeners(req), 0, 'no listener left behind');
    });

    it('parses a JSON array element by element across chunk boundaries, inside strings and escapes', async () => {
      const req = request();
      const push = readPush(req, 'application/json', limits(1000));
      const body = JSON.stringify([{ out: 'a "quoted" \\ [x], {y}\n' }, { out: 'b\n', level: 'warn' }]);
      for (const piece of body.match(/.{1,3}/gs)!) req.write(piece);
      req.end();
      assert.deepEqual((await push).lines, [{ out: 'a "quoted" \\ [x], {y}\n' }, { out: 'b\n', level: 'warn' }]);
    });

    it('scans a JSON array over 1 MiB element by element, whatever the chunking, strings with escapes and brackets included', async () => {
      const lines = Array.from({ length: 12_000 }, (_, i) => ({
        out: `${i} "q" \\ [x] {y}, ${'é'.repeat(i % 7)}\u2028 ${'w'.repeat(60)}\n`,
        ...(i % 3 === 0 ? { level: 'warn' } : {}),
      }));
      const body = JSON.stringify(lines);
      assert.ok(body.length > 1024 * 1024, 'past the whole-body fast path');
      const req = request();
      const push = readPush(req, 'application/json', limits(64 << 20));
      for (let at = 0; at < body.length; at += 7) req.write(body.slice(at, at + 7));
      req.end();
      assert.deepEqual((await push).lines, lines);
    });

    it('refuses a JSON array over 1 MiB that breaks after many good elements, naming no partial push', async () => {
      const req = request();
      const push = readPush(req, 'application/json', limits(64 << 20));
      req.write(JSON.stringify(Array.from({ length: 12_000 }, () => ({ out: 'x'.repeat(100) }))).slice(0, -1));
      req.end(',{"out":}]');
      await assert.rejects(push, { code: 'LOGSVC_INVALID_JSON', status: 400 });
    });

    it('keeps only the newest lines the stream can retain and counts the rest, with their text bytes', async () => {
      const req = request();
      const push = readPush(req, 'text/plain', limits(1000, 60_000, 3));
      req.end('one\ntwo\nthree\nfour\nfive\n');
      const got = await push;
      assert.equal(text(got), 'three\nfour\nfive\n');
      assert.deepEqual(got.skipped, { lines: 2, textBytes: 8 });
      assert.equal(got.total, 5);
    });

    it('windows a small body with a Content-Length the same way (read whole, then the newest lines kept)', async () => {
      const body = 'one\ntwo\nthree\nfour\nfive\n';
      const req = request({ 'content-length': String(body.length) });
      const push = readPush(req, 'text/plain', limits(1000, 60_000, 3));
      req.end(body);
      const got = await push;
      assert.equal(text(got), 'three\nfour\nfive\n');
      assert.deepEqual(got.skipped, { lines: 2, textBytes: 8 });
      assert.equal(got.total, 5);
    });

    it('resolves with no lines for an empty text body', async () => {
      const req = request({ 'content-length': '0' });
      const push = readPush(req, 'text/plain', limits(1000));
      req.end();
      assert.deepEqual((await push).lines, []);
    });

    it('accepts a body of exactly the limit, each line counting 8 bytes more', async () => {
      const req = request({ 'content-length': '10' });
      const push = readPush(req, 'text/plain', limits(18));
      req.end('0123456789');
      assert.equal(text(await push), '0123456789');
    });

    it('refuses at once, reading nothing, when Content-Length is over the limit', async () => {
      const req = request({ 'content-length': '11' });
      await assert.rejects(readPush(req, 'text/plain', limits(10)), {
        code: 'LOGSVC_BODY_TOO_LARGE',
        status: 413,
        message: 'the push body is over 10 bytes (each line counts 8 bytes more): send the lines in smaller batches',
      });
      assert.equal(listeners(req), 0);
    });

    it('refuses as soon as the bytes (and lines) go over the limit without a Content-Length, and pauses the request', async () => {
      const req = request();
      const push = readPush(req, 'text/plain', limits(20));
      req.write('\n\n\n');
      req.write('\n');
      await assert.rejects(push, { code: 'LOGSVC_BODY_TOO_LARGE', status: 413 });
      assert.equal(req.isPaused(), true);
      assert.equal(listeners(req), 0);
    });

    it('refuses a body cut off before its end with 400 LOGSVC_BAD_REQUEST', async () => {
      const req = request();
      const push = readPush(req, 'text/plain', limits(1000));
      req.write('part');
      req.destroy();
      await assert.rejects(push, { code: 'LOGSVC_BAD_REQUEST', status: 400, message: 'the request body was cut off' });
    });

    it('refuses a body whose JSON breaks in the middle with 400, naming no partial push', async () => {
      const req = request();
      const push = readPush(req, 'application/json', limits(1000));
      req.end('[{"out":"a\\n"},{"out":');
      await assert.rejects(push, { code: 'LOGSVC_INVALID_JSON', status: 400 });
    });

    it('refuses a body that does not arrive in time with 408 LOGSVC_REQUEST_TIMEOUT', async () => {
      const req = request();
      const push = readPush(req, 'text/plain', limits(1000, 50));
      req.write('slow');
      await assert.rejects(push, { code: 'LOGSVC_REQUEST_TIMEOUT', status: 408, message: 'the body did not arrive within 0.05 s' });
      assert.equal(listeners(req), 0);
    });
  });
});
