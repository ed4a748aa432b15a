// Section markers in log text (docs/VIEWER.md §4): GitLab's
// `section_start:<unix seconds>:<name>[options]\r\e[0K<header>` and
// `section_end:<unix seconds>:<name>`, and GitHub Actions' `::group::<title>`
// and `::endgroup::`. Pure logic.

export type SectionMarker =
  /** `collapsed`: GitLab's `[collapsed=true]` option: the section starts folded. */
  | { kind: 'start'; name: string; title: string; atMs?: number; collapsed?: boolean }
  /** `name`: the section it ends (GitLab); undefined: the innermost (GitHub). `rest`: text after the marker. */
  | { kind: 'end'; name?: string; atMs?: number; rest: string };

// eslint-disable-next-line no-control-regex -- GitLab's markers are wrapped in ESC[0K erase sequences
const GITLAB = /^(?:\x1b\[0K)?section_(start|end):(\d+):([A-Za-z0-9_.-]+)(\[[^\]]*\])?\r?(?:\x1b\[0K)?/;

/** The marker `text` (one line, without its newline) starts with, or undefined. */
export function parseSectionMarker(text: string): SectionMarker | undefined {
  if (text.startsWith('::group::')) {
    const title = text.slice('::group::'.length).trim();
    return { kind: 'start', name: title, title: title || 'group' };
  }
  if (text.startsWith('::endgroup::')) return { kind: 'end', rest: text.slice('::endgroup::'.length) };
  if (!text.includes('section_')) return undefined;
  const m = GITLAB.exec(text);
  if (m === null) return undefined;
  const atMs = Number(m[2]) * 1000;
  const name = m[3]!;
  const rest = text.slice(m[0].length);
  if (m[1] !== 'start') return { kind: 'end', name, atMs, rest };
  const collapsed = /[[,]\s*collapsed=true\s*[,\]]/.test(m[4] ?? '');
  return collapsed ? { kind: 'start', name, title: rest || name, atMs, collapsed } : { kind: 'start', name, title: rest || name, atMs };
}
