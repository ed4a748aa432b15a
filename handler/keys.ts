// Validation of accounts, keys and CI ids (docs/PROTOCOL.md §3). Everything a handler
// passes to a backend went through here first.
import { ServiceError } from '../foundation/errors.ts';

const MAX_KEY_BYTES = 1024;
/** A CI id or accountID (docs/PROTOCOL.md §3). */
const CI_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// C0 controls, DEL and C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function validateKey(key: string | undefined): string {
  if (key === undefined || key === '') throw new ServiceError('LOGSVC_INVALID_KEY', 'key is required: pass ?key=<key>');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new ServiceError('LOGSVC_INVALID_KEY', `key is longer than ${MAX_KEY_BYTES} bytes`);
  if (CONTROL.test(key)) throw new ServiceError('LOGSVC_INVALID_KEY', 'key must not contain control characters');
  if (key.startsWith('/')) throw new ServiceError('LOGSVC_INVALID_KEY', 'key must not start with "/"');
  if (!key.isWellFormed()) throw new ServiceError('LOGSVC_INVALID_KEY', 'key must be valid UTF-8');
  for (const segment of key.split('/')) {
    if (segment === '') throw new ServiceError('LOGSVC_INVALID_KEY', 'key must not contain empty segments ("//" or a trailing "/")');
    if (segment === '.' || segment === '..') throw new ServiceError('LOGSVC_INVALID_KEY', 'key must not contain "." or ".." segments');
  }
  return key;
}

/** A key prefix for prefix operations: like a key, but a trailing "/" is allowed. */
export function validatePrefix(prefix: string | undefined): string {
  if (prefix !== undefined && prefix.endsWith('/') && prefix.length > 1) return validateKey(prefix.slice(0, -1)) + '/';
  return validateKey(prefix);
}

/** A well-formed accountID: 1-128 characters of A-Z a-z 0-9 . _ : - (docs/PROTOCOL.md §3). */
export function isAccountId(accountID: string): boolean {
  return CI_ID.test(accountID);
}

export function validateAccount(accountID: string | undefined): string {
  if (accountID === undefined || accountID === '') throw new ServiceError('LOGSVC_INVALID_ACCOUNT', 'accountID is required: pass ?accountID=<id>');
  if (!CI_ID.test(accountID)) {
    throw new ServiceError('LOGSVC_INVALID_ACCOUNT', 'accountID must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  }
  return accountID;
}

export function validateCiId(label: string, value: string | undefined): string {
  if (value === undefined || !CI_ID.test(value)) {
    throw new ServiceError('LOGSVC_INVALID_ID', `${label} must be 1-128 characters of A-Z a-z 0-9 . _ : - (got "${String(value).slice(0, 40)}")`);
  }
  if (value === '.' || value === '..') throw new ServiceError('LOGSVC_INVALID_ID', `${label} must not be "." or ".."`);
  return value;
}

export interface CiStep {
  project: string;
  build: string;
  stage: string;
  step: string;
}

export function ciKey(ids: Partial<Record<keyof CiStep, string>>): string {
  return [validateCiId('project', ids.project), validateCiId('build', ids.build), validateCiId('stage', ids.stage), validateCiId('step', ids.step)].join('/');
}

/** The internal name of a stream or blob (docs/PROTOCOL.md §3). */
export function internalName(accountID: string, key: string): string {
  return `${accountID}/${key}`;
}
