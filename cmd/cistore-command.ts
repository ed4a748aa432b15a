// `log-service cistore …`: the blob store by CI step (docs/PROTOCOL.md §2.2) — upload,
// download, and links for tools that should not hold the token.
import { createWriteStream } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { addStepArguments, stepAddress, stepName } from './ci-step-arguments.ts';
import { addConnectionOptions, clientCommandGroup, clientFrom, CONNECTION_ENV_HELP, type ConnectionFlags } from './cli-connection.ts';
import { exitQuietlyOnClosedStdout, runAction, UsageError, writeStdout } from './cli-output.ts';
import { transferProgress } from './transfer-progress.ts';

type StepArgs = [project: string, build: string, stage: string, step: string];

const CONTENT_TYPES: Record<string, string> = {
  '.log': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json',
  '.ndjson': 'application/x-ndjson',
  '.jsonl': 'application/x-ndjson',
  '.xml': 'application/xml',
  '.html': 'text/html; charset=utf-8',
  '.gz': 'application/gzip',
  '.zip': 'application/zip',
  '.tar': 'application/x-tar',
};

const blobOf = (...args: [...StepArgs, ...unknown[]]): string => `blob ${stepName(args[0], args[1], args[2], args[3])}`;

export function registerCistoreCommand(program: Command): void {
  const cistore = clientCommandGroup(program, 'cistore', 'store and fetch finished logs (and other files) by CI step').addHelpText(
    'after',
    `
Examples:
  log-service cistore upload web 42 test unit build.log
  log-service cistore download web 42 test unit -o build.log
  curl -fT build.log "$(log-service cistore upload-link web 42 test unit)"
${CONNECTION_ENV_HELP}`,
  );

  addConnectionOptions(
    addStepArguments(cistore.command('upload'))
      .description("upload a file, or stdin, as the step's blob (streamed; replaces an existing blob)")
      .argument('[path]', 'file to upload; stdin when absent or "-"')
      .option('--content-type <type>', 'Content-Type to store (default: from the file extension, else application/octet-stream)'),
  )
    .addHelpText(
      'after',
      `
Examples:
  log-service cistore upload web 42 test unit build.log
  make test 2>&1 | log-service cistore upload web 42 test unit
  log-service cistore upload --content-type text/plain web 42 test unit - < build.log

A progress bar is shown on stderr when it is a terminal.
${CONNECTION_ENV_HELP}`,
    )
    .action(
      runAction(
        blobOf,
        async (project: string, build: string, stage: string, step: string, path: string | undefined, flags: ConnectionFlags & { contentType?: string }) => {
          const address = stepAddress(project, build, stage, step);
          const client = clientFrom(flags);
          const fromStdin = path === undefined || path === '-';
          if (fromStdin && process.stdin.isTTY === true) {
            throw new UsageError('nothing to upload: give a file path, or pipe the data into stdin');
          }
          if (!fromStdin) {
            const info = await stat(path).catch(() => undefined);
            if (info === undefined) throw new UsageError(`no such file: ${path}`);
            if (!info.isFile()) throw new UsageError(`not a file: ${path}`);
          }
          const contentType = flags.contentType ?? (fromStdin ? undefined : CONTENT_TYPES[extname(path).toLowerCase()]);
          const progress = transferProgress(`upload ${stepName(project, build, stage, step)}`);
          try {
            await client.blob(address).upload(fromStdin ? process.stdin : path, {
              ...(contentType !== undefined ? { contentType } : {}),
              onProgress: (p) => progress.onProgress(p),
            });
          } finally {
            progress.stop();
          }
        },
      ),
    );

  addConnectionOptions(
    addStepArguments(cistore.command('download'))
      .description("download the step's blob to stdout, or to a file with -o (streamed)")
      .option('-o, --output <file>', 'write to this file (written whole or not at all); "-" for stdout'),
  )
    .addHelpText(
      'after',
      `
Examples:
  log-service cistore download web 42 test unit > build.log
  log-service cistore download web 42 test unit -o build.log
  log-service cistore download web 42 test unit | grep -n FAIL

A progress bar is shown on stderr when it is a terminal.
${CONNECTION_ENV_HELP}`,
    )
    .action(
      runAction(blobOf, async (project: string, build: string, stage: string, step: string, flags: ConnectionFlags & { output?: string }) => {
        const address = stepAddress(project, build, stage, step);
        const client = clientFrom(flags);
        const toStdout = flags.output === undefined || flags.output === '-';
        if (!toStdout) {
          const output = flags.output as string;
          if ((await stat(output).catch(() => undefined))?.isDirectory() === true) throw new UsageError(`-o ${output}: is a directory; give a file name`);
          if ((await stat(dirname(output)).catch(() => undefined))?.isDirectory() !== true)
            throw new UsageError(`-o ${output}: no such directory ${dirname(output)}`);
        }
        const progress = transferProgress(`download ${stepName(project, build, stage, step)}`);
        try {
          const body = await client.blob(address).download({ onProgress: (p) => progress.onProgress(p) });
          if (toStdout) {
            exitQuietlyOnClosedStdout();
            for await (const chunk of body) await writeStdout(chunk as Buffer);
          } else {
            await writeFileAtomically(flags.output as string, body);
          }
        } finally {
          progress.stop();
        }
      }),
    );

  for (const [name, kind] of [
    ['download-link', 'download'],
    ['upload-link', 'upload'],
  ] as const) {
    addConnectionOptions(
      addStepArguments(cistore.command(name))
        .description(`print a link that ${kind === 'download' ? 'downloads (GET)' : 'uploads (PUT)'} the step's blob without the token; it expires`)
        .option('--json', 'print {"link", "expires"} (expires: lifetime in nanoseconds) instead of the bare URL'),
    )
      .addHelpText(
        'after',
        `
Examples:
  ${
    kind === 'download'
      ? 'curl -fsS "$(log-service cistore download-link web 42 test unit)" > build.log'
      : 'curl -fsS -T build.log "$(log-service cistore upload-link web 42 test unit)"'
  }
${CONNECTION_ENV_HELP}`,
      )
      .action(
        runAction(blobOf, async (project: string, build: string, stage: string, step: string, flags: ConnectionFlags & { json?: boolean }) => {
          const blob = clientFrom(flags).blob(stepAddress(project, build, stage, step));
          const link = kind === 'download' ? await blob.downloadLink() : await blob.uploadLink();
          await writeStdout(flags.json === true ? `${JSON.stringify(link)}\n` : `${link.link}\n`);
        }),
      );
  }
}

/** Streams into a temporary file next to `path` and renames it into place: no half-written file on failure. */
async function writeFileAtomically(path: string, body: NodeJS.ReadableStream): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.part`);
  try {
    await pipeline(body, createWriteStream(temporary));
    await rename(temporary, path);
  } catch (err) {
    await unlink(temporary).catch(() => undefined);
    throw err;
  }
}
