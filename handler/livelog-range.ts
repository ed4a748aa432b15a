// taskcluster livelog's own Range parsing, for LIVELOG_RANGE_MODE=legacy
// (docs/LIVELOG.md §3): clients written against the old livelog get exactly
// what it answered — status 200 (never 206), `bytes=a-b` the bytes a..b
// inclusive, `bytes=-n` the bytes 0..n (not the last n), and its error
// strings, spelling included, with 416.

/** livelog's MAX_RANGE: no end. */
const NO_END = Number.MAX_SAFE_INTEGER;

export type LegacyRange = { start: number; stopAt: number } | { error: string };

export function legacyRange(header: string | undefined): LegacyRange {
  if (header === undefined || header === '') return { start: 0, stopAt: NO_END };
  if (!header.startsWith('bytes=')) return { error: 'Other then byte prefix given' };
  const segment = header.slice('bytes='.length);
  if (segment.includes(',')) return { error: 'Cannot handle multiple range segments...' };
  const parts = segment.split('-');
  if (parts.length > 2) return { error: 'Too many range segements' };
  if (parts.length < 2) return { error: 'Unknown range segements...' };
  const start = parts[0] === '' ? 0 : atoi(parts[0]!);
  if (typeof start === 'string') return { error: start };
  const stop = parts[1] === '' ? NO_END : atoi(parts[1]!);
  if (typeof stop === 'string') return { error: stop };
  // Inclusive ranges: livelog added one to the end, except for "no end".
  return { start, stopAt: stop === NO_END ? NO_END : stop + 1 };
}

/** Go's strconv.Atoi, as far as a range needs: the number, or its error text. */
function atoi(text: string): number | string {
  if (!/^[+]?\d+$/.test(text)) return `strconv.Atoi: parsing ${JSON.stringify(text)}: invalid syntax`;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) return `strconv.Atoi: parsing ${JSON.stringify(text)}: value out of range`;
  return value;
}
