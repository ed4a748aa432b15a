// A row's text without its ANSI escapes: what find matches and what copy
// copies. Rendering (ansi-render.tsx) gives anser the text with only its SGR
// (colour and style) sequences left, so the characters it shows are exactly
// these and find's offsets land on them. Pure logic.

// eslint-disable-next-line no-control-regex -- CSI sequences (colours, erase) and OSC sequences (titles, links)
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()*+][0-9A-Za-z]|\x1b[@-Z\\-_]/g;
// eslint-disable-next-line no-control-regex -- every escape but SGR (ESC [ … m)
const NOT_SGR = /\x1b\[[0-9;?]*[ -/]*[@-ln-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()*+][0-9A-Za-z]|\x1b[@-Z\\-_]/g;

export function plainText(text: string): string {
  return text.includes('\x1b') ? text.replace(ANSI, '') : text;
}

/** `text` with only its SGR sequences: OSC titles and hyperlinks (their text stays), charset switches and erases go. */
export function onlySgr(text: string): string {
  return text.replace(NOT_SGR, '');
}
