// `\r` progress lines shown as a terminal leaves them (docs/VIEWER.md §4):
// each `\r` returns to the line start and what follows overwrites what was
// there, so `50%\r100%` shows `100%` and `abcdef\rxy` shows `xycdef`. Pure logic.

// eslint-disable-next-line no-control-regex -- ANSI escapes are what this looks for
const ESCAPE = /\x1b/;

/** What a terminal shows for one line holding `\r`s (a final `\r` of a CRLF is already gone). */
export function collapseCarriageReturns(text: string): string {
  if (!text.includes('\r')) return text;
  const parts = text.split('\r');
  // A trailing `\r` overwrites nothing.
  while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  // With colour escapes, character positions are not columns: the last non-empty overwrite is what shows.
  if (ESCAPE.test(text)) return parts.findLast((part) => part.length > 0) ?? '';
  let shown = '';
  for (const part of parts) shown = part.length >= shown.length ? part : part + shown.slice(part.length);
  return shown;
}
