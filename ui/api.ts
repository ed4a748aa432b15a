// Requests to the service from the page (docs/VIEWER.md §6): the token the
// viewer typed is kept in sessionStorage (gone with the tab; never in the URL
// bar, never in a URL the server logs) and sent as a Bearer header. A 401
// asks for a token; a 403 says the token may not read this.
import { signal } from '@preact/signals';

const TOKEN_KEY = 'log-service.token';

/** Set when a request was refused for want of a (good) token: the page shows the prompt. */
export const authProblem = signal<{ status: number; message: string } | undefined>(undefined);
/** Bumped when a token is entered: pages fetch again. */
export const tokenVersion = signal(0);

export class AuthError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function authHeaders(): Record<string, string> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token === null ? {} : { Authorization: `Bearer ${token}` };
}

export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
  authProblem.value = undefined;
  tokenVersion.value++;
}

/** Reports an auth failure to the page. */
export function reportAuth(err: AuthError): void {
  authProblem.value = { status: err.status, message: err.message };
}

/** GET `path` as JSON; AuthError on 401/403, Error with the service's message otherwise. */
export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: authHeaders(), cache: 'no-store' });
  if (res.ok) return (await res.json()) as T;
  let message = `HTTP ${res.status}`;
  try {
    message = ((await res.json()) as { error_msg?: string }).error_msg ?? message;
  } catch {
    /* not the service's error body */
  }
  if (res.status === 401 || res.status === 403) throw new AuthError(res.status, message);
  throw new Error(message);
}

/**
 * Fetches `path` and saves it as `filename` (a link could not carry the Bearer
 * header). `upToNow`: a live log's raw view follows the log forever, so its
 * length now is asked first (HEAD) and that many bytes are fetched (Range).
 */
export async function download(path: string, filename: string, upToNow = false): Promise<void> {
  const headers = authHeaders();
  if (upToNow) {
    const head = await fetch(path, { method: 'HEAD', headers });
    refuseAuth(head);
    const length = Number(head.headers.get('x-log-length') ?? head.headers.get('content-length') ?? NaN);
    if (Number.isFinite(length)) {
      if (length === 0) return save(new Blob([]), filename);
      Object.assign(headers, { Range: `bytes=0-${length - 1}` });
    }
  }
  const res = await fetch(path, { headers });
  refuseAuth(res);
  if (!res.ok) throw new Error(`download failed: ${await errorText(res)}`);
  save(await res.blob(), filename);
}

/** The service's error message (`error_msg`), or the status. */
async function errorText(res: Response): Promise<string> {
  try {
    return ((await res.json()) as { error_msg?: string }).error_msg ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

function refuseAuth(res: Response): void {
  if (res.status === 401 || res.status === 403) throw new AuthError(res.status, `HTTP ${res.status}`);
}

function save(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
