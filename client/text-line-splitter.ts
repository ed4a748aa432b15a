// Splits text that arrives in arbitrary chunks (a pipe, a child's stdout) into
// log lines. DESIGN §4: each text line becomes one line whose `out` keeps its
// trailing newline, and the log's text is the concatenation of `out` — so
// splitting never adds or removes a byte. A line longer than the server keeps
// (64 KiB by default) is cut into several lines rather than truncated.

const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export class TextLineSplitter {
  private partial = '';
  private readonly decoder = new TextDecoder('utf-8');

  constructor(private readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES) {}

  /** True while text without its newline is waiting for more (it becomes a line at `end`). */
  get hasPartialLine(): boolean {
    return this.partial !== '';
  }

  /** Complete lines in `chunk` (with what was pending before it); the rest waits for more text. */
  push(chunk: string | Uint8Array): string[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const lines: string[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const line = this.partial + text.slice(start, nl + 1);
      this.partial = '';
      start = nl + 1;
      lines.push(...this.cut(line));
    }
    this.partial += text.slice(start);
    if (this.partial.length > this.maxLineBytes / 3) {
      // Possibly over the limit: emit the full-size pieces now, keep the tail pending.
      const pieces = this.cut(this.partial);
      this.partial = pieces.pop() ?? '';
      lines.push(...pieces);
    }
    return lines;
  }

  /** End of input: whatever is pending (a last line without a newline). */
  end(): string[] {
    const rest = this.partial + this.decoder.decode();
    this.partial = '';
    return rest === '' ? [] : this.cut(rest);
  }

  /** Cuts `line` into pieces of at most maxLineBytes UTF-8 bytes, never inside a character. */
  private cut(line: string): string[] {
    if (line.length * 3 <= this.maxLineBytes || Buffer.byteLength(line, 'utf8') <= this.maxLineBytes) return [line];
    const pieces: string[] = [];
    let rest = line;
    while (Buffer.byteLength(rest, 'utf8') > this.maxLineBytes) {
      let end = 0;
      let bytes = 0;
      while (end < rest.length) {
        const code = rest.codePointAt(end) ?? 0;
        const width = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
        if (bytes + width > this.maxLineBytes) break;
        bytes += width;
        end += code >= 0x10000 ? 2 : 1;
      }
      pieces.push(rest.slice(0, end));
      rest = rest.slice(end);
    }
    pieces.push(rest);
    return pieces;
  }
}

/** A whole text at once: `"a\nb\n"` → `["a\n", "b\n"]`, `"a\nb"` → `["a\n", "b"]`. */
export function splitText(text: string, maxLineBytes = DEFAULT_MAX_LINE_BYTES): string[] {
  const splitter = new TextLineSplitter(maxLineBytes);
  return [...splitter.push(text), ...splitter.end()];
}
