// A client tail read to its end, as short strings ("seq:text", "dropped a-b", "restart at n after m") tests can compare.
import type { TailEvent } from '../../client/index.ts';

export async function collectTail(events: AsyncIterable<TailEvent>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of events) {
    if (e.type === 'line') out.push(`${e.seq}:${e.line.out.trimEnd()}`);
    else if (e.type === 'dropped') out.push(`dropped ${e.from}-${e.to}`);
    else out.push(`restart at ${e.from} after ${e.after ?? 'none'}`);
  }
  return out;
}
