// go-scribe's file size syntax (docs/SCRIBE.md §3), the one parser for
// LOG_SERVICE_SCRIBE_MAX_SIZE and `log-service scribe --size`. It lives in
// foundation/ because the config validates the setting at start-up, and
// foundation may not import scribe/.
//
// go-scribe's LexicalToNumber (scribe/util.go) takes a decimal number and one of
// KB, MB, GB, TB, with decimal multipliers (1 KB = 1000 bytes), and "-1" for
// files that never rotate; its own flag help also promises "-1B", which its
// parser refused. Here both mean "never rotate", a plain byte count ("65536" or
// "65536B") is accepted too, and units are case-insensitive. Everything else
// ("0AB", "A0.1MB", "1.5", "5 MB", "-2MB") is refused, as is a size that rounds
// to 0 bytes: a limit of nothing would start a new file for every line.

/** Never rotate (go-scribe's -1). */
const NEVER_ROTATE = -1;

const MULTIPLIER_DIGITS: Record<string, number> = { '': 0, B: 0, KB: 3, MB: 6, GB: 9, TB: 12 };
const SIZE = /^(\d+)(?:\.(\d+))?(B|KB|MB|GB|TB)?$/i;

/**
 * Bytes for a go-scribe size ("100KB" → 100000, "0.01GB" → 10000000), -1 for
 * "-1" / "-1B", undefined when the text is not a size. Fractions of a byte are
 * cut off, as go-scribe's int64() conversion did, but computed in decimal
 * digits so "0.29KB" is 290, not 289.99… → 289.
 */
export function parseScribeSize(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^-1B?$/i.test(trimmed)) return NEVER_ROTATE;
  const m = SIZE.exec(trimmed);
  if (!m) return undefined;
  const whole = m[1]!;
  const fraction = m[2] ?? '';
  // A fraction needs a unit: "1.5" bytes means nothing.
  if (fraction !== '' && (m[3] === undefined || m[3].toUpperCase() === 'B')) return undefined;
  const digits = MULTIPLIER_DIGITS[(m[3] ?? '').toUpperCase()]!;
  const scaled = whole + fraction.slice(0, digits).padEnd(digits, '0');
  const bytes = Number(BigInt(scaled));
  if (!Number.isSafeInteger(bytes) || bytes < 1) return undefined;
  return bytes;
}
