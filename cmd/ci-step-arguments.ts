// The four positional IDs that address a CI step (docs/PROTOCOL.md §3): checked here so
// a typo is a usage error (exit 2) before anything is sent.
import type { Command } from 'commander';
import type { CiAddress } from '../client/index.ts';
import { UsageError } from './cli-output.ts';

const CI_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function addStepArguments(command: Command): Command {
  return command
    .argument('<project>', 'project ID')
    .argument('<build>', 'build ID (e.g. the build number)')
    .argument('<stage>', 'stage ID')
    .argument('<step>', 'step ID');
}

export function stepAddress(project: string, build: string, stage: string, step: string): CiAddress {
  const ids = { project, build, stage, step };
  for (const [name, value] of Object.entries(ids)) {
    if (!CI_ID.test(value) || value === '.' || value === '..') {
      throw new UsageError(`invalid ${name} "${value}": expected 1-128 characters of A-Z a-z 0-9 . _ : - (not "." or "..")`);
    }
  }
  return ids;
}

export function stepName(project: string, build: string, stage: string, step: string): string {
  return `${project}/${build}/${stage}/${step}`;
}

/** True for a key made of four CI IDs (`project/build/stage/step`), which the CI routes can address. */
export function isStepKey(key: string): boolean {
  const ids = key.split('/');
  return ids.length === 4 && ids.every((id) => CI_ID.test(id) && id !== '.' && id !== '..');
}
