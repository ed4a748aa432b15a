// `log-service cistream …`: live log streams by CI step (docs/PROTOCOL.md §2.2, §6) —
// open, push (a message or all of stdin, batched), tail (follows to the end,
// resumes after network errors), close, and the list of open streams.
import { PassThrough } from 'node:stream';
import { InvalidArgumentError, type Command } from 'commander';
import { PushError, type CiAddress, type LogServiceClient, type OpenStream, type PushEvent, type PushOptions, type TailOptions } from '../client/index.ts';
import { addStepArguments, isStepKey, stepAddress, stepName } from './ci-step-arguments.ts';
import { addConnectionOptions, addGrpcOption, clientCommandGroup, clientFrom, CONNECTION_ENV_HELP, type ConnectionFlags } from './cli-connection.ts';
import { exitQuietlyOnClosedStdout, failureLine, formatTable, runAction, UsageError, writeStdout } from './cli-output.ts';
import { formatBytes } from './transfer-progress.ts';

type StepArgs = [project: string, build: string, stage: string, step: string];

const streamOf = (...args: [...StepArgs, ...unknown[]]): string => `stream ${stepName(args[0], args[1], args[2], args[3])}`;

/** `--retry-for`: 90s, 5m, 1h30m, 500ms, or a plain number of seconds; in ms. */
function parseDuration(value: string): number {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const unitMs: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  const part = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;
  let total = 0;
  let end = 0;
  for (let match = part.exec(text); match !== null; match = part.exec(text)) {
    total += Number(match[1]) * unitMs[match[2]!]!;
    end = part.lastIndex;
  }
  if (end === 0 || end !== text.length) throw new InvalidArgumentError('expected a duration such as 90s, 5m or 1h30m (a plain number is seconds).');
  return Math.round(total);
}

/** 300000 → "5m", 90000 → "1m30s", 3000 → "3s", 1500 → "1.5s". */
function formatDuration(ms: number): string {
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)}s`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const sec = Math.round((ms % 60_000) / 1000);
  return `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${sec > 0 ? `${sec}s` : ''}`;
}

const DEFAULT_RETRY_FOR_MS = 5 * 60_000;

function nonNegativeInteger(name: string) {
  return (value: string): number => {
    if (!/^\d{1,15}$/.test(value)) throw new InvalidArgumentError(`${name} must be a non-negative integer.`);
    return Number(value);
  };
}

export function registerCistreamCommand(program: Command): void {
  const cistream = clientCommandGroup(program, 'cistream', 'live log streams by CI step: open, push, tail, close').addHelpText(
    'after',
    `
Examples:
  log-service cistream open web 42 test unit
  make test 2>&1 | log-service cistream push web 42 test unit
  log-service cistream tail web 42 test unit
  log-service cistream close --snapshot web 42 test unit
${CONNECTION_ENV_HELP}`,
  );

  addGrpcOption(
    addConnectionOptions(
      addStepArguments(cistream.command('open'))
        .description("open the step's stream (opening an open stream does nothing)")
        .option('--ttl <seconds>', "close the stream after this long without a push (default: the server's, 5 h)", nonNegativeInteger('--ttl')),
    ),
  )
    .addHelpText(
      'after',
      `
Example:
  log-service cistream open --ttl 7200 web 42 test unit
${CONNECTION_ENV_HELP}`,
    )
    .action(
      runAction(streamOf, async (project: string, build: string, stage: string, step: string, flags: ConnectionFlags & { ttl?: number }) => {
        const stream = clientFrom(flags).stream(stepAddress(project, build, stage, step));
        await stream.open(flags.ttl === undefined ? {} : { ttlSeconds: flags.ttl });
      }),
    );

  addGrpcOption(
    addConnectionOptions(
      addStepArguments(cistream.command('push'))
        .description("push a message, or every line of stdin as it arrives (batched), to the step's open stream")
        .argument('[message]', 'one log message (a newline is added); without it, lines are read from stdin until EOF')
        .option('--level <level>', "level of the pushed lines (e.g. info, warn, error; default: the server's, info)")
        .option(
          '--retry-for <duration>',
          'how long to keep retrying while the service is unavailable (e.g. 90s, 5m, 1h; 0: not at all)',
          parseDuration,
          DEFAULT_RETRY_FOR_MS,
        )
        .option('--buffer-dir <dir>', 'where lines wait past 16 MiB while the service is unavailable (default: $TMPDIR or /tmp)'),
    ),
  )
    .addHelpText(
      'after',
      `
Examples:
  log-service cistream push web 42 test unit "starting tests"
  log-service cistream push --level error web 42 test unit "tests failed"
  make test 2>&1 | log-service cistream push web 42 test unit
  make test 2>&1 | log-service cistream push --retry-for 15m web 42 test unit

Lines from stdin keep their newlines; they are sent in batches (1000 lines, 256 KiB or 100 ms,
whichever comes first), so a whole build log streams in few requests and still shows up live.

When the service is unavailable (503, connection refused or reset, no answer) push keeps
reading stdin, so the build is never held up, and retries for --retry-for (default 5m),
with one warning on stderr when it starts retrying and one when it recovers. Lines wait in
memory up to 16 MiB, then in a temporary file (in --buffer-dir) of at most 1 GiB, removed
when push ends. Each batch carries an X-Push-Id, so a batch sent twice is stored once. If
the service lost the stream in the outage (404 after it), push opens it again and carries on.
Past the deadline it says how many lines were not delivered, reads stdin to its end, exits 1.
${CONNECTION_ENV_HELP}`,
    )
    .action(
      runAction(streamOf, async (project: string, build: string, stage: string, step: string, message: string | undefined, flags: PushFlags) => {
        const stream = clientFrom(flags).stream(stepAddress(project, build, stage, step));
        if (flags.level !== undefined && !/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(flags.level)) {
          throw new UsageError(`--level: expected a level name of 1-32 letters, digits, _ or - (e.g. info, warn, error), got "${flags.level}"`);
        }
        const target = streamOf(project, build, stage, step);
        const options: PushOptions = { retryForMs: flags.retryFor ?? DEFAULT_RETRY_FOR_MS, onEvent: (event) => warn(target, event) };
        if (flags.level !== undefined) options.level = flags.level;
        if (flags.bufferDir !== undefined) options.buffer = { dir: flags.bufferDir };
        if (message !== undefined) {
          try {
            await stream.push(message.endsWith('\n') ? message : `${message}\n`, options);
          } catch (err) {
            if (!(err instanceof PushError)) throw err;
            process.stderr.write(`log-service: ${pushFailure(err, target)}\n`);
            process.exitCode = 1;
          }
          return;
        }
        // Through a relay: when the push fails, stdin itself is not destroyed and is read to its
        // end, so a producer piping into us (make | tee build.log | …) does not die of a broken
        // pipe because the log service failed. The failure still exits 1, and is said at once,
        // not when stdin ends.
        const relay = new PassThrough();
        process.stdin.pipe(relay);
        try {
          await stream.push(relay, options);
        } catch (err) {
          process.stdin.unpipe(relay);
          // What the relay still holds was read from stdin and never sent.
          const counter = new LineCounter();
          for (let chunk = relay.read() as Buffer | null; chunk !== null; chunk = relay.read() as Buffer | null) counter.add(chunk);
          relay.destroy();
          const rest = process.stdin.readableEnded ? '' : '; the rest of stdin is read and dropped';
          const said = err instanceof PushError ? pushFailure(err, target, err.undelivered + counter.lines()) : failureLine(err, target);
          process.stderr.write(`log-service: ${said}${rest}\n`);
          process.exitCode = 1;
          const before = counter.lines();
          process.stdin.on('data', (chunk: Buffer) => counter.add(chunk));
          process.stdin.resume();
          await new Promise<void>((resolve) => {
            if (process.stdin.readableEnded) resolve();
            else process.stdin.once('end', resolve).once('error', () => resolve());
          });
          const more = counter.lines() - before;
          if (more > 0)
            process.stderr.write(`log-service: ${target}: ${more} more ${more === 1 ? 'line' : 'lines'} read from stdin after that, not delivered either\n`);
        }
      }),
    );

  addGrpcOption(
    addConnectionOptions(
      addStepArguments(cistream.command('tail'))
        .description("print the step's log as it is written, until the stream ends (history first, then live lines)")
        .option('--from <seq>', 'start after the line with this seq (resume point)', nonNegativeInteger('--from'))
        .option('--tail <n>', 'start at the last n lines', nonNegativeInteger('--tail'))
        .option('--json', 'print one line object ({"level","pos","out","time",…}) per output line instead of the text'),
    ),
  )
    .addHelpText(
      'after',
      `
Examples:
  log-service cistream tail web 42 test unit
  log-service cistream tail --tail 100 web 42 test unit
  log-service cistream tail --json web 42 test unit | jq -r 'select(.level=="error") | .out'

Exits 0 when the stream ends. After a network error it reconnects and continues after the
last line it printed (no line twice, none missing). Lines the server no longer holds are
reported on stderr as "lines A-B dropped"; a stream that started again under the same key
(closed and reopened, or lost by the server and reopened by its producer) as "the stream
started again", and the tail follows the new stream from its first line.
${CONNECTION_ENV_HELP}`,
    )
    .action(
      runAction(
        streamOf,
        async (project: string, build: string, stage: string, step: string, flags: ConnectionFlags & { from?: number; tail?: number; json?: boolean }) => {
          if (flags.from !== undefined && flags.tail !== undefined) throw new UsageError('--from and --tail exclude each other');
          const address: CiAddress = stepAddress(project, build, stage, step);
          const stream = clientFrom(flags).stream(address);
          const options: TailOptions = {};
          if (flags.from !== undefined) options.from = flags.from;
          if (flags.tail !== undefined) options.tail = flags.tail;
          exitQuietlyOnClosedStdout();
          for await (const event of stream.tail(options)) {
            if (event.type === 'dropped') {
              process.stderr.write(`log-service: lines ${event.from}-${event.to} dropped (no longer held by the server)\n`);
            } else if (event.type === 'restart') {
              const lost = event.after === undefined ? '' : `; whatever it had after line ${event.after} is lost`;
              process.stderr.write(
                `log-service: the stream started again (closed and opened again, or lost by the server and reopened)${lost}; following the new stream from line ${event.from}\n`,
              );
            } else {
              await writeStdout(flags.json === true ? `${JSON.stringify(event.line)}\n` : event.line.out);
            }
          }
        },
      ),
    );

  addGrpcOption(
    addConnectionOptions(
      addStepArguments(cistream.command('close'))
        .description("close the step's stream: viewers get the rest and then the end")
        .option('--snapshot', 'first store the stream as NDJSON in the blob store under the same step'),
    ),
  )
    .addHelpText(
      'after',
      `
Example:
  log-service cistream close --snapshot web 42 test unit
${CONNECTION_ENV_HELP}`,
    )
    .action(
      runAction(streamOf, async (project: string, build: string, stage: string, step: string, flags: ConnectionFlags & { snapshot?: boolean }) => {
        const stream = clientFrom(flags).stream(stepAddress(project, build, stage, step));
        await stream.close({ snapshot: flags.snapshot === true });
      }),
    );

  addGrpcOption(
    addConnectionOptions(
      cistream
        .command('info')
        .description('list the open streams of your account: key, lines pushed, lines held, viewers, time left')
        .argument('[prefix]', 'only keys that start with this (e.g. "web/42/")')
        .option('--json', 'print a JSON array of {"key","size","held","subscribers","ttl"}'),
    ),
  )
    .addHelpText(
      'after',
      `
Examples:
  log-service cistream info
  log-service cistream info web/42/ --json

On a terminal it prints a table (KEY, PUSHED, HELD, VIEWERS, TTL); otherwise tab-separated
lines: key, lines pushed, viewers, ttl, lines held. "Pushed" counts every line the stream
took; "held" those the server still keeps (the last 10 000 by default): a viewer starting
now gets the held lines and is told the others were dropped. "-" when it cannot be known.
${CONNECTION_ENV_HELP}`,
    )
    .action(
      runAction(
        () => 'open streams',
        async (prefix: string | undefined, flags: ConnectionFlags & { json?: boolean }) => {
          const client = clientFrom(flags);
          const streams = (await client.listStreams()).filter((s) => prefix === undefined || s.key.startsWith(prefix));
          const held = await heldLines(client, streams);
          if (flags.json === true) {
            const rows = streams.map((s, i) => ({ key: s.key, size: s.size, held: held[i] ?? null, subscribers: s.subscribers, ttl: s.ttl }));
            await writeStdout(`${JSON.stringify(rows)}\n`);
            return;
          }
          const terminal = process.stdout.isTTY === true;
          if (terminal && streams.length === 0) {
            await writeStdout('no open streams\n');
            return;
          }
          const shown = (i: number): string => (held[i] === undefined ? '-' : String(held[i]));
          if (terminal) {
            const rows = streams.map((s, i) => [s.key, String(s.size), shown(i), String(s.subscribers), s.ttl]);
            await writeStdout(formatTable(['KEY', 'PUSHED', 'HELD', 'VIEWERS', 'TTL'], rows, true));
          } else {
            // Held comes last: scripts that read the first four columns keep working.
            const rows = streams.map((s, i) => [s.key, String(s.size), String(s.subscribers), s.ttl, shown(i)]);
            await writeStdout(formatTable([], rows, false));
          }
        },
      ),
    );
}

type PushFlags = ConnectionFlags & { level?: string; retryFor?: number; bufferDir?: string };

/** The one-line warnings of a push riding out an outage (stderr; stdout stays the data's). */
function warn(target: string, event: PushEvent): void {
  const say = (text: string): void => {
    process.stderr.write(`log-service: ${target}: ${text}\n`);
  };
  switch (event.type) {
    case 'retrying':
      say(`push failing: ${failureLine(event.error, '')}; retrying for up to ${formatDuration(event.retryForMs)}, stdin is kept meanwhile`);
      break;
    case 'recovered':
      say(`push recovered after ${formatDuration(event.afterMs)} (${event.attempts} attempts); sending the ${event.pendingLines} lines kept meanwhile`);
      break;
    case 'reopened':
      say('the stream was gone after the outage (the server lost it) and was opened again: the lines it had are lost there, the rest follows from line 0');
      break;
    case 'buffer-full':
      say(`push buffer full (${formatBytes(event.maxBytes)}) while the service is unavailable: lines are dropped until it recovers`);
      break;
  }
}

/** The line said when a push fails: what failed, and (for stdin) how many lines did not get through. */
function pushFailure(err: PushError, target: string, undelivered?: number): string {
  const lines = undelivered === undefined ? '' : `; ${undelivered} ${undelivered === 1 ? 'line' : 'lines'} not delivered`;
  const cause = err.cause instanceof Error ? err.cause : err;
  if (err.retriedForMs > 0) return `${target}: gave up after ${formatDuration(err.retriedForMs)} of failures: ${failureLine(cause, '')}${lines}`;
  return `${failureLine(err.code === 'LOGSVC_INCOMPLETE' ? err : cause, target)}${lines}`;
}

/** Counts the lines in bytes read and dropped (a last line without a newline counts too). */
class LineCounter {
  private newlines = 0;
  private open = false;

  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) this.newlines++;
    this.open = chunk[chunk.length - 1] !== 10;
  }

  lines(): number {
    return this.newlines + (this.open ? 1 : 0);
  }
}

/**
 * Lines each stream still holds. The server reports only `size` (lines pushed), so unless it
 * says `held` this asks it: a tail that starts at the oldest held line tells where that is
 * (its first event is that line, or the dropped range before it). Undefined when it cannot be
 * known (a key outside the CI routes, no read access, no answer within 5 s).
 */
async function heldLines(client: LogServiceClient, streams: readonly OpenStream[]): Promise<(number | undefined)[]> {
  const held: (number | undefined)[] = streams.map((s) => s.held ?? (s.size === 0 ? 0 : undefined));
  const todo = streams.map((s, i) => ({ s, i })).filter(({ i }) => held[i] === undefined);
  const probe = async (stream: OpenStream): Promise<number | undefined> => {
    if (!isStepKey(stream.key)) return undefined;
    const [project, build, stage, step] = stream.key.split('/') as [string, string, string, string];
    const signal = AbortSignal.timeout(5000);
    try {
      for await (const event of client.stream({ project, build, stage, step }).tail({ signal, reconnectForMs: 0 })) {
        if (event.type === 'dropped') return Math.min(stream.size, Math.max(0, stream.size - (event.to + 1)));
        if (event.type === 'line') return Math.min(stream.size, Math.max(0, stream.size - event.seq));
      }
    } catch {
      // not readable with this token, gone meanwhile, or too slow: unknown
    }
    return undefined;
  };
  // A few at a time: each is one short tail on the server.
  const workers = Array.from({ length: Math.min(8, todo.length) }, async () => {
    for (let next = todo.shift(); next !== undefined; next = todo.shift()) held[next.i] = await probe(next.s);
  });
  await Promise.all(workers);
  return held;
}
