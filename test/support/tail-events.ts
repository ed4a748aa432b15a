// A client tail read to its end, as short strings ("seq:text", "dropped a-b") tests can compare.
import type { TailEvent } from '../../client/index.ts';

export async function collectTail(events: AsyncIterable<TailEvent>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of events) out.push(e.type === 'line' ? `${e.seq}:${e.line.out.trimEnd()}` : `dropped ${e.from}-${e.to}`);
  return out;
}
