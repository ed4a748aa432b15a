// `log-service cistream …`: live log streams by CI step (docs/PROTOCOL.md §2.2, §6) —
// open, push (a message or all of stdin, batched), tail (follows to the end,
// resumes after network errors), close, and the list of open streams.
import { PassThrough } from 'node:stream';
import { InvalidArgumentError, type Command } from 'commander';
import type { CiAddress, TailOptions } from '../client/index.ts';
import { addStepArguments, stepAddress, stepName } from './ci-step-arguments.ts';
import { addConnectionOptions, clientCommandGroup, clientFrom, CONNECTION_ENV_HELP, type ConnectionFlags } from './cli-connection.ts';
import { exitQuietlyOnClosedStdout, formatTable, runAction, UsageError, writeStdout } from './cli-output.ts';

type StepArgs = [project: string, build: string, stage: string, step: string];

const streamOf = (...args: [...StepArgs, ...unknown[]]): string => `stream ${stepName(args[0], args[1], args[2], args[3])}`;

function nonNegativeInteger(name: string) {
  return (value: string): number => {
    if (!/^\d{1,15}$/.test(value)) throw new InvalidArgumentError(`${name} must be a non-negative integer.`);
    return Number(value);
  };
}

export function registerCistreamCommand(program: Command): void {
  const cistream = clientCommandGroup(program, 'cistream', 'live log streams by CI step: open, push, tail, close')
    .addHelpText('after', `
Examples:
  log-service cistream open web 42 test unit
  make test 2>&1 | log-service cistream push web 42 test unit
  log-service cistream tail web 42 test unit
  log-service cistream close --snapshot web 42 test unit
${CONNECTION_ENV_HELP}`);

  addConnectionOptions(addStepArguments(cistream.command('open'))
    .description('open the step\'s stream (opening an open stream does nothing)')
    .option('--ttl <seconds>', 'close the stream after this long without a push (default: the server\'s, 5 h)', nonNegativeInteger('--ttl')))
    .addHelpText('after', `
Example:
  log-service cistream open --ttl 7200 web 42 test unit
${CONNECTION_ENV_HELP}`)
    .action(runAction(streamOf, async (project: string, build: string, stage: string, step: string, flags: ConnectionFlags & { ttl?: number }) => {
      const stream = clientFrom(flags).stream(stepAddress(project, build, stage, step));
      await stream.open(flags.ttl === undefined ? {} : { ttlSeconds: flags.ttl });
    }));

  addConnectionOptions(addStepArguments(cistream.command('push'))
    .description('push a message, or every line of stdin as it arrives (batched), to the step\'s open stream')
    .argument('[message]', 'one log message (a newline is added); without it, lines are read from stdin until EOF')
    .option('--level <level>', 'level of the pushed lines (e.g. info, warn, error; default: the server\'s, info)'))
    .addHelpText('after', `
Examples:
  log-service cistream push web 42 test unit "starting tests"
  log-service cistream push --level error web 42 test unit "tests failed"
  make test 2>&1 | log-service cistream push web 42 test unit

Lines from stdin keep their newlines; they are sent in batches (1000 lines, 256 KiB or 100 ms,
whichever comes first), so a whole build log streams in few requests and still shows up live.
${CONNECTION_ENV_HELP}`)
    .action(runAction(streamOf, async (project: string, build: string, stage: string, step: string, message: string | undefined, flags: ConnectionFlags & { level?: string }) => {
      const stream = clientFrom(flags).stream(stepAddress(project, build, stage, step));
      if (flags.level !== undefined && !/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(flags.level)) {
        throw new UsageError(`--level: expected a level name of 1-32 letters, digits, _ or - (e.g. info, warn, error), got "${flags.level}"`);
      }
      const options = flags.level === undefined ? {} : { level: flags.level };
      if (message !== undefined) await stream.push(message.endsWith('\n') ? message : `${message}\n`, options);
      else {
        // Through a relay: when the push fails, stdin itself is not destroyed and is read to its
        // end, so a producer piping into us (make | tee build.log | …) does not die of a broken
        // pipe because the log service failed. The failure still exits 1.
        const relay = new PassThrough();
        process.stdin.pipe(relay);
        try {
          await stream.push(relay, options);
        } catch (err) {
          process.stdin.unpipe(relay);
          relay.destroy();
          process.stdin.resume();
          await new Promise<void>((resolve) => {
            if (process.stdin.readableEnded) resolve();
            else process.stdin.once('end', resolve).once('error', () => resolve());
          });
          throw err;
        }
      }
    }));

  addConnectionOptions(addStepArguments(cistream.command('tail'))
    .description('print the step\'s log as it is written, until the stream ends (history first, then live lines)')
    .option('--from <seq>', 'start after the line with this seq (resume point)', nonNegativeInteger('--from'))
    .option('--tail <n>', 'start at the last n lines', nonNegativeInteger('--tail'))
    .option('--json', 'print one line object ({"level","pos","out","time",…}) per output line instead of the text'))
    .addHelpText('after', `
Examples:
  log-service cistream tail web 42 test unit
  log-service cistream tail --tail 100 web 42 test unit
  log-service cistream tail --json web 42 test unit | jq -r 'select(.level=="error") | .out'

Exits 0 when the stream ends. After a network error it reconnects and continues after the
last line it printed (no line twice, none missing). Lines the server no longer holds are
reported on stderr as "lines A-B dropped".
${CONNECTION_ENV_HELP}`)
    .action(runAction(streamOf, async (project: string, build: string, stage: string, step: string, flags: ConnectionFlags & { from?: number; tail?: number; json?: boolean }) => {
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
        } else {
          await writeStdout(flags.json === true ? `${JSON.stringify(event.line)}\n` : event.line.out);
        }
      }
    }));

  addConnectionOptions(addStepArguments(cistream.command('close'))
    .description('close the step\'s stream: viewers get the rest and then the end')
    .option('--snapshot', 'first store the stream as NDJSON in the blob store under the same step'))
    .addHelpText('after', `
Example:
  log-service cistream close --snapshot web 42 test unit
${CONNECTION_ENV_HELP}`)
    .action(runAction(streamOf, async (project: string, build: string, stage: string, step: string, flags: ConnectionFlags & { snapshot?: boolean }) => {
      const stream = clientFrom(flags).stream(stepAddress(project, build, stage, step));
      await stream.close({ snapshot: flags.snapshot === true });
    }));

  addConnectionOptions(cistream.command('info')
    .description('list the open streams of your account: key, lines, viewers, time left')
    .argument('[prefix]', 'only keys that start with this (e.g. "web/42/")')
    .option('--json', 'print a JSON array of {"key","size","subscribers","ttl"}'))
    .addHelpText('after', `
Examples:
  log-service cistream info
  log-service cistream info web/42/ --json

On a terminal it prints a table; otherwise tab-separated lines (key, lines, viewers, ttl).
${CONNECTION_ENV_HELP}`)
    .action(runAction(() => 'open streams', async (prefix: string | undefined, flags: ConnectionFlags & { json?: boolean }) => {
      const streams = (await clientFrom(flags).listStreams()).filter((s) => prefix === undefined || s.key.startsWith(prefix));
      if (flags.json === true) {
        await writeStdout(`${JSON.stringify(streams)}\n`);
        return;
      }
      const terminal = process.stdout.isTTY === true;
      if (terminal && streams.length === 0) {
        await writeStdout('no open streams\n');
        return;
      }
      const rows = streams.map((s) => [s.key, String(s.size), String(s.subscribers), s.ttl]);
      await writeStdout(formatTable(['KEY', 'LINES', 'VIEWERS', 'TTL'], rows, terminal));
    }));
}
