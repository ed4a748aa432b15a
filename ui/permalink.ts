// Permalinks to lines (docs/VIEWER.md §4): `#L120`, `#L120-L140`. Pure logic.

/** `#L12` or `#L12-L20` (1-based, inclusive). */
export function parseHash(hash: string): { from: number; to: number } | undefined {
  const m = /^#L(\d+)(?:-L?(\d+))?$/.exec(hash);
  if (m === null) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  return { from: Math.min(a, b), to: Math.max(a, b) };
}
