// A row's text without its ANSI escapes: what find matches and what copy
// copies (the rendering itself is anser's, ansi-render.tsx). Pure logic.

// eslint-disable-next-line no-control-regex -- CSI sequences (colours, erase) and OSC sequences (titles, links)
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

export function plainText(text: string): string {
  return text.includes('\x1b') ? text.replace(ANSI, '') : text;
}
