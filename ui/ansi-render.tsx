// One row's text as styled spans (docs/VIEWER.md §4): anser parses the ANSI
// SGR sequences (16, 256 and truecolor, bold/italic/underline/…), linkifyjs
// finds URLs, and find's matches are cut into the spans. Only rows on screen
// are rendered, so this runs for a few dozen rows at a time.
import Anser from 'anser';
import { find as findLinks } from 'linkifyjs';
import type { ComponentChild, JSX } from 'preact';
import { onlySgr } from './plain-text.ts';

const DECORATION_STYLE: Record<string, JSX.CSSProperties> = {
  bold: { fontWeight: 'bold' },
  dim: { opacity: 0.6 },
  italic: { fontStyle: 'italic' },
  underline: { textDecoration: 'underline' },
  strikethrough: { textDecoration: 'line-through' },
  hidden: { visibility: 'hidden' },
};

/** What this reads of anser's entries (its typings say `string` where it gives `null`, and omit isInverted). */
interface Entry {
  content: string;
  fg: string | null;
  bg: string | null;
  decorations: string[];
  isInverted?: boolean;
}

/**
 * anser's 16 colours (its fixed palette, also what 256-colour indexes 0–15 give) drawn from the
 * theme instead, so black text stays readable on the dark theme and white on the light one.
 */
const THEMED_FG: Record<string, string> = {
  '0, 0, 0': 'var(--ansi-black)',
  '187, 0, 0': 'var(--ansi-red)',
  '0, 187, 0': 'var(--ansi-green)',
  '187, 187, 0': 'var(--ansi-yellow)',
  '0, 0, 187': 'var(--ansi-blue)',
  '187, 0, 187': 'var(--ansi-magenta)',
  '0, 187, 187': 'var(--ansi-cyan)',
  '255,255,255': 'var(--ansi-white)',
  '85, 85, 85': 'var(--ansi-bright-black)',
  '255, 85, 85': 'var(--ansi-bright-red)',
  '0, 255, 0': 'var(--ansi-bright-green)',
  '255, 255, 85': 'var(--ansi-bright-yellow)',
  '85, 85, 255': 'var(--ansi-bright-blue)',
  '255, 85, 255': 'var(--ansi-bright-magenta)',
  '85, 255, 255': 'var(--ansi-bright-cyan)',
  '255, 255, 255': 'var(--ansi-bright-white)',
};

function styleOf(entry: Entry): JSX.CSSProperties | undefined {
  let fg = entry.fg === null ? undefined : (THEMED_FG[entry.fg] ?? `rgb(${entry.fg})`);
  let bg = entry.bg === null ? undefined : `rgb(${entry.bg})`;
  // Inverse video swaps the colours, the theme's own when none is set.
  if (entry.isInverted || entry.decorations.includes('reverse')) [fg, bg] = [bg ?? 'var(--bg)', fg ?? 'var(--fg)'];
  if (fg === undefined && bg === undefined && entry.decorations.length === 0) return undefined;
  const style: JSX.CSSProperties = {};
  if (fg !== undefined) style.color = fg;
  if (bg !== undefined) style.backgroundColor = bg;
  for (const decoration of entry.decorations) Object.assign(style, DECORATION_STYLE[decoration]);
  return style;
}

/**
 * The spans of `text`. `matches`: [start, end) ranges of the plain text to
 * highlight; `current`: the index among them of the match the viewer is on.
 */
export function renderText(text: string, matches: readonly [number, number][], current: number): ComponentChild[] {
  const entries: Entry[] = text.includes('\x1b')
    ? (Anser.ansiToJson(onlySgr(text), { json: true, remove_empty: true, use_classes: false }) as unknown as Entry[])
    : [{ content: text, fg: null, bg: null, decorations: [] }];
  const out: ComponentChild[] = [];
  let base = 0;
  for (const entry of entries) {
    const content = entry.content;
    const style = styleOf(entry);
    const links = content.includes('://') || content.includes('www.') ? findLinks(content, 'url') : [];
    // Cut points: link edges and match edges inside this entry.
    const cuts = new Set<number>([0, content.length]);
    for (const link of links) cuts.add(link.start).add(link.end);
    for (const [s, e] of matches) {
      if (e <= base || s >= base + content.length) continue;
      cuts.add(Math.max(0, s - base)).add(Math.min(content.length, e - base));
    }
    const points = [...cuts].sort((a, b) => a - b);
    for (let i = 0; i + 1 < points.length; i++) {
      const from = points[i]!;
      const to = points[i + 1]!;
      const piece = content.slice(from, to);
      const at = base + from;
      const match = matches.findIndex(([s, e]) => s <= at && at < e);
      const link = links.find((l) => l.start <= from && from < l.end);
      let node: ComponentChild = piece;
      if (match !== -1) node = <mark class={match === current ? 'match current' : 'match'}>{node}</mark>;
      if (link !== undefined) {
        node = (
          <a href={link.href} target="_blank" rel="noopener noreferrer">
            {node}
          </a>
        );
      }
      out.push(style === undefined ? node : <span style={style}>{node}</span>);
    }
    base += content.length;
  }
  return out;
}
